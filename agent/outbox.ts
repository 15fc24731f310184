// Sends what the drain thread gathered: on a timer, and at once when order matters
// (a module map change, a fault, exit, stop).
import { post } from './messages.js';
import type { Tracer } from './tracer.js';

export class Outbox {
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly tracer: Tracer) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.send(), intervalMs);
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
    for (;;) {
      this.tracer.drain();
      const data = this.tracer.take();
      if (data === null) return;
      post({ type: 'events' }, data);
    }
  }
}
