// The worker side of LiveIngest: tails the capture and stores its frames.
import { parentPort, workerData } from 'node:worker_threads';
import { CaptureReader } from '../capture/reader.js';
import { closeFinished, createIndexes, openTraceForWriting } from '../store/database.js';
import { Ingester } from './ingester.js';
import type { LiveIngestReport } from './live-ingest.js';

const COMMIT_MS = 1000;
const { capturePath, dbPath } = workerData as { capturePath: string; dbPath: string };
const report = (m: LiveIngestReport) => parentPort!.postMessage(m);

const reader = CaptureReader.open(capturePath);
const db = openTraceForWriting(dbPath);
const ingester = new Ingester(db, reader.info, (message) => report({ type: 'warning', message }));
let lastCommit = Date.now();

function ingestTo(end: number): void {
  reader.grow(end);
  for (const frame of reader.frames(ingester.position, end)) ingester.frame(frame);
  if (Date.now() - lastCommit >= COMMIT_MS) {
    ingester.commit();
    lastCommit = Date.now();
  }
  report({ type: 'progress', stored: ingester.storedEvents });
}

parentPort!.on('message', (m: { type: 'grown' | 'finish'; end: number }) => {
  try {
    ingestTo(m.end);
    if (m.type === 'grown') return;
    ingester.finish();
    createIndexes(db);
    closeFinished(db);
    reader.close();
    report({ type: 'done', stored: ingester.storedEvents });
  } catch (e) {
    ingester.abort();
    report({ type: 'failed', message: (e as Error).message });
  }
});
