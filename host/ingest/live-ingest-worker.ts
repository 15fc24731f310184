// The worker side of LiveIngest: follows the capture as it grows and stores its frames.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { CaptureReader } from '../capture/reader.js';
import { IngestDriver } from './ingest-driver.js';
import type { LiveIngestReport } from './live-ingest.js';

/** Commit about this often, so readers following the trace (replay --follow) see it move. */
const COMMIT_MS = 1000;
const IDLE_NICE = 10;
const { capturePath, dbPath } = workerData as { capturePath: string; dbPath: string };
const report = (m: LiveIngestReport) => parentPort!.postMessage(m);

// The target being recorded comes first: this thread takes what CPU it leaves. (On Linux a
// priority set for "this process" from a thread applies to that thread alone.)
setPriority(0, IDLE_NICE);

const reader = CaptureReader.open(capturePath);
const driver = new IngestDriver(reader, dbPath, { aside: false, commitEvery: { ms: COMMIT_MS } },
  (message) => report({ type: 'warning', message }));

parentPort!.on('message', (m: { type: 'grown' | 'finish'; end: number }) => {
  try {
    driver.storeTo(m.end);
    report({ type: 'progress', stored: driver.storedEvents });
    if (m.type === 'grown') return;
    driver.finish();
    reader.close();
    report({ type: 'done', stored: driver.storedEvents });
  } catch (e) {
    driver.fail(e);
    report({ type: 'failed', message: (e as Error).message });
  }
});
