// A forked child inherits this agent and its hooks, but not its drain thread nor its connection
// to the host. The forking thread leaves Stalker for the fork itself, so the child starts
// unfollowed (a followed thread in a child that execs deadlocks Frida's exec handling, and
// unfollowing one in the child aborts it); the parent's thread is followed again on return.
// In the child nothing records and nothing waits for the host.
import type { Outbox } from './outbox.js';
import type { Threads } from './threads.js';
import type { Tracer } from './tracer.js';

export class ForkGuard {
  /** True in a forked child: recording, flushing and waiting for the host are over. */
  inChild = false;

  constructor(private readonly tracer: Tracer, private readonly outbox: Outbox, private readonly threads: Threads) {}

  watch(): void {
    const fork = Module.findGlobalExportByName('fork');
    if (fork === null) return;
    const { threads } = this;
    const guard = this;
    Interceptor.attach(fork, {
      onEnter() {
        this.followed = !guard.inChild && threads.isFollowed(this.threadId);
        // Takes effect when this callback returns: fork runs unfollowed.
        if (this.followed) Stalker.unfollow(this.threadId);
      },
      onLeave(pid) {
        if (pid.toInt32() === 0) guard.orphan();
        else if (this.followed) threads.follow(this.threadId);
      },
    });
  }

  private orphan(): void {
    if (this.inChild) return;
    this.inChild = true;
    this.tracer.orphan();
    this.outbox.stop();
  }
}
