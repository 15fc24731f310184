// Signal handlers. The kernel enters a handler at its own address, outside Stalker's code, so a
// followed thread runs it unrecorded. Every handler the program installs (sigaction, signal,
// and those installed before we came) is hooked: on a followed thread the handler is followed
// from its entry, into the thread's ring, and left again when it returns to the interrupted code,
// which is still Stalker's.
import type { Threads } from './threads.js';

const SIG_IGN = 1;
const MAX_SIGNAL = 64;

/** Where struct sigaction keeps the handler: glibc puts it first, 64-bit bionic after sa_flags. */
const handlerOffset = () => (Process.findModuleByName('libc.so.6') !== null ? 0 : 8);

/** How long a hook made from a target thread may wait to be in the code, in steps of STEP_S. */
const MAX_STEPS = 200;
const STEP_S = 0.0005;

/** A function's first bytes, or null where its code cannot be read (execute-only memory). */
function firstBytes(code: NativePointer): UInt64 | null {
  try {
    return code.readU64();
  } catch {
    return null;
  }
}

/**
 * Returns once the hook just attached at `code` is in the code, as far as it can tell. A hook
 * made inside another hook's callback (sigaction's, on a target thread) is written when every
 * thread's Interceptor transaction has ended, and the agent's own thread may be inside one:
 * the program would then raise its signal, and run its handler, before the hook is there. So
 * this thread lets the others run a moment, and asks again, until the code has changed.
 */
function inPlace(code: NativePointer, original: UInt64 | null): void {
  Interceptor.flush();
  if (original === null) return;
  for (let step = 0; step < MAX_STEPS && firstBytes(code)?.equals(original); step++) {
    Thread.sleep(STEP_S);
    Interceptor.flush();
  }
}

export class SignalHandlers {
  private readonly hooked = new Set<string>();

  constructor(private readonly threads: Threads) {}

  private hookHandler(handler: NativePointer): void {
    if (handler.compare(ptr(SIG_IGN)) <= 0 || this.hooked.has(handler.toString())) return;
    this.hooked.add(handler.toString());
    const { threads } = this;
    const original = firstBytes(handler);
    try {
      Interceptor.attach(handler, {
        onEnter() {
          this.followed = threads.followHandler(this.threadId);
        },
        onLeave() {
          if (this.followed) Stalker.unfollow(this.threadId);
        },
      });
    } catch {
      // Not hookable (a handler in memory Interceptor cannot patch): it runs unrecorded.
      return;
    }
    inPlace(handler, original);
  }

  watch(): void {
    const offset = handlerOffset();
    const sigaction = Module.findGlobalExportByName('sigaction');
    if (sigaction !== null) {
      // The handlers installed before the agent came.
      const query = new NativeFunction(sigaction, 'int', ['int', 'pointer', 'pointer']);
      const old = Memory.alloc(256);
      for (let sig = 1; sig <= MAX_SIGNAL; sig++) {
        if (query(sig, NULL, old) === 0) this.hookHandler(old.add(offset).readPointer());
      }
      const self = this;
      Interceptor.attach(sigaction, {
        onEnter(args) {
          this.handler = args[1].isNull() ? null : args[1].add(offset).readPointer();
        },
        onLeave(ret) {
          if (ret.toInt32() === 0 && this.handler !== null) self.hookHandler(this.handler);
        },
      });
    }
    for (const name of ['signal', 'bsd_signal', 'sysv_signal', '__sysv_signal']) {
      const install = Module.findGlobalExportByName(name);
      if (install === null) continue;
      const self = this;
      Interceptor.attach(install, {
        onEnter(args) {
          this.handler = args[1];
        },
        onLeave(ret) {
          if (!ret.equals(ptr(-1))) self.hookHandler(this.handler);
        },
      });
    }
  }
}
