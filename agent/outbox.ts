// Sends what the drain thread gathered: on a timer, and at once when order matters
// (a module map change, a fault, exit, stop). On the local device a writer thread of the
// CModule's appends chunks to the capture itself, and sending at once means waiting for its
// next pass; the timer then only watches that the appends still succeed.
import { CaptureWriteError } from '../host/schema/protocol.generated.js';
import { post } from './messages.js';
import type { Tracer } from './tracer.js';

export class Outbox {
  private timer: ReturnType<typeof setInterval> | null = null;
  private direct = false;

  constructor(private readonly tracer: Tracer) {}

  /** `direct`: the capture is open here and the host holds the link. */
  start(intervalMs: number, direct: boolean): void {
    this.tracer.direct(direct);
    this.direct = direct;
    this.timer = setInterval(() => (direct ? this.watchWrites() : this.send()), intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** A failed append is said once; a host that is gone has nobody to be told. */
  private watchWrites(): void {
    const error = this.tracer.writeError;
    if (error === 0) return;
    this.stop();
    if (error !== CaptureWriteError.hostGone) post({ type: 'capture-failed', error });
  }

  /** Sends what was drained so far. */
  send(): void {
    for (let data = this.tracer.take(); data !== null; data = this.tracer.take()) post({ type: 'events' }, data);
  }

  /** Drains every ring on this thread and sends it all, so what follows comes after it. */
  flush(): void {
    if (this.direct) {
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
