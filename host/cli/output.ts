import { once } from 'node:events';

/**
 * Buffered writes to stdout that wait when the reader is slower, so a million-row answer
 * streams in constant memory. A closed pipe (`| head`) ends the output quietly.
 */
export class Output {
  private buffer: (string | Buffer)[] = [];
  private size = 0;
  closed = false;

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
    });
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
      if (!this.stream.write(text)) await once(this.stream as NodeJS.EventEmitter, 'drain');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
      this.closed = true;
    }
  }
}
