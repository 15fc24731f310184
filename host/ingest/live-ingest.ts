import { Worker } from 'node:worker_threads';

export type LiveIngestReport =
  | { type: 'progress'; stored: number }
  | { type: 'warning'; message: string }
  | { type: 'done'; stored: number }
  | { type: 'failed'; message: string };

/**
 * Ingests a capture while it is being written, in a worker thread, so a slow database never
 * holds back the recording: the capture has everything first, and the worker follows.
 */
export class LiveIngest {
  private readonly worker: Worker;
  readonly finished: Promise<{ stored: number }>;
  stored = 0;

  constructor(capturePath: string, dbPath: string, onWarning: (message: string) => void) {
    this.worker = new Worker(new URL('./live-ingest-worker.js', import.meta.url), { workerData: { capturePath, dbPath } });
    this.finished = new Promise((resolve, reject) => {
      this.worker.on('message', (m: LiveIngestReport) => {
        if (m.type === 'progress') this.stored = m.stored;
        else if (m.type === 'warning') onWarning(m.message);
        else if (m.type === 'done') {
          resolve({ stored: (this.stored = m.stored) });
          void this.worker.terminate();
        }
        else reject(new Error(m.message));
      });
      this.worker.on('error', reject);
    });
  }

  /** The capture now ends at `end`. */
  grown(end: number): void {
    this.worker.postMessage({ type: 'grown', end });
  }

  /** Nothing more will be appended after `end`: ingest the rest, finish the database. */
  finish(end: number): Promise<{ stored: number }> {
    this.worker.postMessage({ type: 'finish', end });
    return this.finished;
  }
}
