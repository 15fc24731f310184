import { fork, type ChildProcess } from 'node:child_process';
import { yieldToOthers } from './background-priority.js';

export type LiveIngestReport =
  | { type: 'progress'; stored: number }
  | { type: 'warning'; message: string }
  | { type: 'done'; stored: number }
  | { type: 'failed'; message: string };

export type LiveIngestRequest = { type: 'grown' | 'finish'; end: number };

/**
 * Ingests a capture while it is being written, so a slow database never holds back the
 * recording: the capture has everything first, and the database follows. It runs in a process
 * of its own, in a session of its own at the lowest priority while the recording lasts
 * (background-priority.ts): as a thread of this process it took CPU from the target it records.
 */
export class LiveIngest {
  private readonly child: ChildProcess;
  readonly finished: Promise<{ stored: number }>;
  /** The ingest process's exit status, once it has ended (null: ended by a signal). */
  readonly ended: Promise<number | null>;
  stored = 0;

  constructor(capturePath: string, dbPath: string, onWarning: (message: string) => void) {
    this.child = fork(new URL('./live-ingest-worker.js', import.meta.url), [capturePath, dbPath], {
      // Not this process's Node options: they are for its own entry point.
      detached: true, execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    // Now, before its start-up runs beside the target's first instructions: by the time it could lower itself, that was done.
    if (this.child.pid !== undefined) yieldToOthers(this.child.pid);
    this.ended = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.finished = new Promise((resolve, reject) => {
      this.child.on('message', (m: LiveIngestReport) => {
        if (m.type === 'progress') this.stored = m.stored;
        else if (m.type === 'warning') onWarning(m.message);
        else {
          // Its last report: disconnected, it has nothing left to wait for and ends. (It cannot
          // disconnect itself right after sending: Node throws where a message is still pending.)
          this.child.disconnect();
          if (m.type === 'done') resolve({ stored: (this.stored = m.stored) });
          else reject(new Error(m.message));
        }
      });
      this.child.on('error', reject);
      this.child.on('exit', (code, signal) => reject(new Error(`the ingest process ended (${signal ?? code}) before the trace was finished`)));
    });
  }

  /** The ingest process, which the tests look at. */
  get pid(): number {
    return this.child.pid!;
  }

  /** The capture now ends at `end`. */
  grown(end: number): void {
    this.send({ type: 'grown', end });
  }

  /** Nothing more will be appended after `end`: ingest the rest, finish the database. */
  finish(end: number): Promise<{ stored: number }> {
    this.send({ type: 'finish', end });
    return this.finished;
  }

  /** A process that failed has gone: its failure is what `finished` says. */
  private send(request: LiveIngestRequest): void {
    if (this.child.connected) this.child.send(request);
  }
}
