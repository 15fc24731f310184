// Sends what the drain thread gathered: on a timer, and at once when order matters
// (a module map change, a fault, exit, stop). With the local device's pipe a writer thread of
// the CModule's writes chunks into it, and sending at once means waiting for its next pass.
import { post, throughPipe } from './messages.js';
import type { Tracer } from './tracer.js';

export class Outbox {
  private timer: ReturnType<typeof setInterval> | null = null;
  private pipe = false;

  constructor(private readonly tracer: Tracer) {}

  /** `pipe`: the host opened the pipe's reading end. */
  start(intervalMs: number, pipe: boolean): void {
    this.tracer.usePipe(pipe);
    this.pipe = pipe;
    if (pipe) throughPipe(() => this.tracer.pipeWritten);
    else this.timer = setInterval(() => this.send(), intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sends what was drained so far. */
  send(): void {
    for (let data = this.tracer.take(); data !== null; data = this.tracer.take()) post({ type: 'events' }, data);
  }

  /** Drains every ring on this thread and sends it all, so what follows comes after it. */
  flush(): void {
    if (this.pipe) {
      this.tracer.sync();
      return;
    }
    for (;;) {
      this.tracer.drain();
      const data = this.tracer.take();
      if (data === null) return;
      post({ type: 'events' }, data);
    }
  }
}
