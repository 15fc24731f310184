import { fsReason, UserError } from './errors.js';

/**
 * Buffered writes to stdout (or a file) that wait when the reader is slower, so a million-row
 * answer streams in constant memory. A closed pipe (`| head`) ends the output quietly: `closed`
 * turns true and later writes are dropped, so writers stop at their next check.
 */
export class Output {
  private buffer: (string | Buffer)[] = [];
  private size = 0;
  private failure: UserError | null = null;
  closed = false;

  /** `name`: what a write failure names, "the output" for stdout. */
  constructor(private readonly stream: NodeJS.WritableStream = process.stdout, private readonly name = 'the output') {
    stream.on('error', (e: NodeJS.ErrnoException) => this.failed(e));
  }

  private failed(e: NodeJS.ErrnoException): void {
    if (e.code === 'EPIPE') this.closed = true;
    else this.failure ??= new UserError(`cannot write ${this.name}: ${fsReason(e)}`);
  }

  async line(text: string): Promise<void> {
    return this.write(`${text}\n`);
  }

  async write(chunk: string | Buffer): Promise<void> {
    if (this.closed) return;
    this.buffer.push(chunk);
    this.size += chunk.length;
    if (this.size >= 1 << 16) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (this.size === 0 || this.closed) return;
    const text = Buffer.concat(this.buffer.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
    this.buffer = [];
    this.size = 0;
    try {
      if (!this.stream.write(text)) await drained(this.stream);
    } catch (e) {
      this.failed(e as NodeJS.ErrnoException);
    }
    if (this.failure !== null) throw this.failure;
  }

  /** Flushes, then waits until the stream has taken every byte, so a failed write is known. */
  async end(): Promise<void> {
    await this.flush();
    if (this.closed) return;
    await new Promise<void>((resolve) => this.stream.write('', () => resolve()));
    if (this.failure !== null) throw this.failure;
  }
}

/** Waits for 'drain' or 'error' (the constructor's listener records the error), leaving no listener behind. */
function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
  });
}
