import { readdirSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Where Linux groups processes by session for scheduling (autogroups), each session's group gets
 * an equal share of the CPU whatever its threads' nice values, and Frida starts a spawned target
 * in a session of its own. A process that leads a session of its own (a detached child) lowers
 * its group's weight here, so that it runs on what the target leaves; a group's nice can be
 * raised and set back to 0 without privileges, unlike a thread's.
 */
const GROUP_FILE = '/proc/self/autogroup';
const LOWEST = 19;

/** Lowers this process to the lowest priority: its session's group, and each of its threads for systems without autogroups. */
export function yieldToOthers(): void {
  setGroupNice(LOWEST);
  let threads: string[] = [];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    // Not Linux: this thread alone.
  }
  for (const tid of threads.length === 0 ? ['0'] : threads) {
    try {
      setPriority(Number(tid), LOWEST);
    } catch {
      // A thread that has just ended.
    }
  }
}

/** This process's session group back at the usual priority (its threads stay lowered: only a privileged process may raise them). */
export function stopYielding(): void {
  setGroupNice(0);
}

function setGroupNice(nice: number): void {
  try {
    writeFileSync(GROUP_FILE, String(nice));
  } catch {
    // No autogroups (another system, or a kernel without them): the threads' nice values are all there is.
  }
}
