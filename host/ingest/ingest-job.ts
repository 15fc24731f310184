import { Worker } from 'node:worker_threads';
import { UserError } from '../base/errors.js';
import type { IngestResult } from './ingest-capture.js';

export type IngestJobReport =
  | { type: 'warning'; message: string }
  | { type: 'progress'; position: number; end: number }
  | { type: 'done'; result: IngestResult }
  | { type: 'failed'; message: string; exitCode: number; interrupted: boolean }
  | { type: 'crashed'; message: string; stack?: string };

/**
 * Runs ingestCapture in a worker thread, so that a signal is heard while it works (the main
 * thread stays free). stop() asks it to stop at the next frame boundary: a new database is then
 * removed, a continued one keeps what was stored.
 */
export class IngestJob {
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));
  private stopExitCode = 1;
  readonly finished: Promise<IngestResult>;

  constructor(capturePath: string, dbPath: string, keepGood: boolean, onWarning: (message: string) => void,
    onProgress: (position: number, end: number) => void = () => {}) {
    const worker = new Worker(new URL('./ingest-job-worker.js', import.meta.url), {
      workerData: { capturePath, dbPath, keepGood, stopFlag: this.stopFlag },
    });
    this.finished = new Promise((resolve, reject) => {
      worker.on('message', (m: IngestJobReport) => {
        if (m.type === 'warning') onWarning(m.message);
        else if (m.type === 'progress') onProgress(m.position, m.end);
        else if (m.type === 'done') resolve(m.result);
        else if (m.type === 'failed') reject(new UserError(m.message, m.interrupted ? this.stopExitCode : m.exitCode));
        else reject(Object.assign(new Error(m.message), { stack: m.stack }));
      });
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`the ingest worker exited (${code}) without a result`)));
    });
  }

  /** Stops the ingest; if that is what ends it, it fails with this exit code. */
  stop(exitCode: number): void {
    this.stopExitCode = exitCode;
    Atomics.store(this.stopFlag, 0, 1);
  }
}
