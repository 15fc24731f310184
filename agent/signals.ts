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

export class SignalHandlers {
  private readonly hooked = new Set<string>();

  constructor(private readonly threads: Threads) {}

  private hookHandler(handler: NativePointer): void {
    if (handler.compare(ptr(SIG_IGN)) <= 0 || this.hooked.has(handler.toString())) return;
    this.hooked.add(handler.toString());
    const { threads } = this;
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
    }
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
