// A forked child inherits this agent and its hooks, but not its drain thread, its JavaScript
// thread, nor its connection to the host. The forking thread leaves Stalker for the fork
// itself, so the child starts unfollowed (a followed thread in a child that execs deadlocks
// Frida's exec handling, and unfollowing one in the child aborts it). A lock another thread
// holds at the fork is held for ever in the child, so the JavaScript thread is parked in native
// code, holding none, until the fork has returned (cmodule/forks.h). In the child nothing
// records and nothing waits for the host; the parent's thread is followed again before it goes on.
import type { Threads } from './threads.js';
import type { Tracer } from './tracer.js';

export class ForkGuard {
  constructor(private readonly tracer: Tracer, private readonly threads: Threads) {}

  /** True in a forked child: recording, flushing and waiting for the host are over. */
  get inChild(): boolean {
    return this.tracer.orphaned;
  }

  watch(): void {
    const fork = Module.findGlobalExportByName('fork');
    if (fork === null) return;
    const { threads, tracer } = this;
    // The JavaScript thread waits in native code, holding no lock, until the forks return; then
    // it follows their parents' threads again, which wait for that.
    const park = () => {
      const stillUnderWay = tracer.forkPark();
      for (let tid = tracer.forkWaiting(); tid !== 0; tid = tracer.forkWaiting()) {
        threads.follow(tid);
        tracer.forkRefollowed(tid);
      }
      if (stillUnderWay > 0) setImmediate(park);
    };
    Interceptor.attach(fork, {
      onEnter() {
        if (tracer.orphaned || !threads.isFollowed(this.threadId)) return;
        // Takes effect when this callback returns: fork runs unfollowed.
        Stalker.unfollow(this.threadId);
        tracer.noteForkUnfollowed(this.threadId);
        setImmediate(park);
      },
    });
    // After the listener above: the fork waits until the JavaScript thread is parked.
    Interceptor.attach(fork, { onEnter: tracer.forkEnter, onLeave: tracer.forkLeave });
  }
}
