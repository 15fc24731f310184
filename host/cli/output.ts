import { once } from 'node:events';
import { fsReason, UserError } from './errors.js';

/**
 * Buffered writes to stdout that wait when the reader is slower, so a million-row answer
 * streams in constant memory. A closed pipe (`| head`) ends the output quietly.
 */
export class Output {
  private buffer: (string | Buffer)[] = [];
  private size = 0;
  private failure: UserError | null = null;
  closed = false;

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {
    stream.on('error', (e: NodeJS.ErrnoException) => this.failed(e));
  }

  private failed(e: NodeJS.ErrnoException): void {
    if (e.code === 'EPIPE') this.closed = true;
    else this.failure ??= new UserError(`cannot write the output: ${fsReason(e)}`);
  }

  async line(text: string): Promise<void> {
    return this.write(`${text}\n`);
  }

  async write(chunk: string | Buffer): Promise<void> {
    this.buffer.push(chunk);
    this.size += chunk.length;
    if (this.size >= 1 << 16) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.size === 0 || this.closed) return;
    const text = Buffer.concat(this.buffer.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
    this.buffer = [];
    this.size = 0;
    try {
      if (!this.stream.write(text)) await Promise.race([once(this.stream as NodeJS.EventEmitter, 'drain'), once(this.stream as NodeJS.EventEmitter, 'error')]);
    } catch (e) {
      this.failed(e as NodeJS.ErrnoException);
    }
    if (this.failure !== null) throw this.failure;
  }
}
