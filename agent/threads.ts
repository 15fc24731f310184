// Which threads are followed, and each one's ring.
import { postMeta } from './messages.js';
import type { Tracer } from './tracer.js';

/** Frida's own threads, which may not be cloaked yet when they are first seen. */
const FRIDA_THREAD = /^(pool-frida|gum-js-loop|gmain|gdbus|frida-)/;

export class Threads {
  private readonly rings = new Map<number, NativePointer>();
  private observer: ThreadObserver | null = null;

  constructor(private readonly tracer: Tracer) {}

  private ringOf(tid: number, name: string | null): NativePointer {
    let ring = this.rings.get(tid);
    if (ring === undefined) {
      ring = this.tracer.ring(tid);
      this.rings.set(tid, ring);
      postMeta({ type: 'thread', tid, ...(name ? { name } : {}) });
    }
    return ring;
  }

  /** Frida's own threads, cloaked or named as Frida names them. */
  isFrida(t: { id: number; name?: string }): boolean {
    return Cloak.hasThread(t.id) || FRIDA_THREAD.test(t.name ?? '');
  }

  isFollowed(tid: number): boolean {
    return this.rings.has(tid);
  }

  /** Follows a thread; the current one starts being followed when the running callback returns. */
  follow(tid: number, name: string | null = null): void {
    if (this.tracer.isOwnThread(tid)) return;
    this.followInto(tid, this.ringOf(tid, name));
  }

  /** Every follow records through the transformer into the thread's own ring. */
  private followInto(tid: number, ring: NativePointer): void {
    Stalker.follow(tid, { transform: this.tracer.transform, data: ring });
  }

  /**
   * glibc's exit() runs the main thread's TLS destructors before its exit handlers, and Stalker
   * takes a thread entering __call_tls_dtors for one that is ending: it stops following it. The
   * main thread goes on (atexit handlers, stdio's last writes, _exit); it is followed again, into
   * the same ring, which the drain reads until the thread is gone.
   */
  private followMainThroughExit(): void {
    const tlsDtors = Module.findGlobalExportByName('__call_tls_dtors');
    if (tlsDtors === null) return;
    const { rings } = this;
    const followInto = (tid: number, ring: NativePointer) => this.followInto(tid, ring);
    let mainRing: NativePointer | undefined;
    Interceptor.attach(tlsDtors, {
      onEnter() {
        mainRing = this.threadId === Process.id ? rings.get(this.threadId) : undefined;
      },
      onLeave() {
        if (this.threadId === Process.id && mainRing !== undefined) followInto(this.threadId, mainRing);
      },
    });
  }

  /**
   * In a signal handler's entry, on thread `tid`: if the thread is followed, the handler is too,
   * into the same ring, from when this callback returns. Returns whether it is.
   */
  followHandler(tid: number): boolean {
    const ring = this.rings.get(tid);
    if (ring === undefined) return false;
    this.followInto(tid, ring);
    return true;
  }

  /** Follows the selected threads there are now and those created later. */
  watch(selected: (tid: number) => boolean): void {
    this.followMainThroughExit();
    this.observer = Process.attachThreadObserver({
      onAdded: (t) => {
        if (selected(t.id) && !this.rings.has(t.id) && !this.isFrida(t)) this.follow(t.id, t.name ?? null);
      },
      onRemoved: (t) => {
        const ring = this.rings.get(t.id);
        if (ring === undefined) return;
        this.rings.delete(t.id);
        this.tracer.endRing(ring, true);
      },
      onRenamed: (t) => {
        if (this.rings.has(t.id)) postMeta({ type: 'thread', tid: t.id, ...(t.name ? { name: t.name } : {}) });
      },
    });
  }

  /** Stops following every thread; their rings will say so when drained. */
  stop(): void {
    this.observer?.detach();
    this.observer = null;
    for (const [tid, ring] of this.rings) {
      Stalker.unfollow(tid);
      this.tracer.endRing(ring, false);
    }
    this.rings.clear();
  }
}
