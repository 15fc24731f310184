// The worker side of IngestJob: one ingestCapture, its warnings and its outcome posted back.
import { parentPort, workerData } from 'node:worker_threads';
import { asUserError } from '../base/errors.js';
import { ingestCapture } from './ingest-capture.js';
import { IngestInterrupted } from './ingest-driver.js';
import type { IngestJobReport } from './ingest-job.js';

const { capturePath, dbPath, keepGood, stopFlag } = workerData as { capturePath: string; dbPath: string; keepGood: boolean; stopFlag: Int32Array };
const report = (m: IngestJobReport) => parentPort!.postMessage(m);

try {
  const result = ingestCapture(capturePath, dbPath, (message) => report({ type: 'warning', message }), {
    keepGood, stopRequested: () => Atomics.load(stopFlag, 0) !== 0, progress: (position, end) => report({ type: 'progress', position, end }),
  });
  report({ type: 'done', result });
} catch (e) {
  const failure = asUserError(e);
  report(failure === null
    ? { type: 'crashed', message: String(e), stack: (e as Error).stack }
    : { type: 'failed', message: failure.message, exitCode: failure.exitCode, interrupted: e instanceof IngestInterrupted });
}
