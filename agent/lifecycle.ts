// The two moments a recording must not lose its tail: a fault that may kill the process, and
// exit. Both send everything recorded, then wait until the host has it.
import { awaitAck, post } from './messages.js';
import type { ForkGuard } from './forks.js';
import type { Outbox } from './outbox.js';

/**
 * `forks`: in a forked child there is no host to wait for, and nothing recorded to flush.
 * `skippedSites`: what the exit says was left unrecorded, as stop does where the process lives on.
 */
export function watchFaultsAndExit(outbox: Outbox, forks: ForkGuard, skippedSites: () => number): void {
  Process.setExceptionHandler((details) => {
    if (forks.inChild) return false;
    outbox.flush();
    post({ type: 'crash', detail: `${details.type} at ${details.address}${details.memory ? ` (${details.memory.operation} of ${details.memory.address})` : ''}` });
    awaitAck('crash-ack');
    return false;
  });
  // exit() runs atexit handlers and stdio teardown before _exit(): flush at both.
  for (const name of ['exit', '_exit']) {
    const exit = Module.findGlobalExportByName(name);
    if (exit === null) continue;
    Interceptor.attach(exit, {
      onEnter(args) {
        if (forks.inChild) return;
        outbox.flush();
        post({ type: 'exiting', status: args[0].toInt32(), skippedSites: skippedSites() });
        awaitAck('exit-ack');
      },
    });
  }
}
