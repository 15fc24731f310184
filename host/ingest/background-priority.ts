import { readdirSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Where Linux groups processes by session for scheduling (autogroups), each session's group gets
 * an equal share of the CPU whatever its threads' nice values, and Frida starts a spawned target
 * in a session of its own. A process that leads a session of its own (a detached child) is
 * lowered with its group's weight here, so that it runs on what the target leaves; a group's nice
 * can be raised and set back to 0 without privileges, unlike a thread's.
 */
const LOWEST = 19;

/**
 * Lowers a process to the lowest priority: its session's group, and each of its threads for
 * systems without autogroups. Threads it creates later inherit the nice value of the one that
 * creates them, so a parent that lowers its child right after starting it lowers the child's
 * start-up too (for Node, a CPU for a fifth of a second).
 */
export function yieldToOthers(pid: number | 'self' = 'self'): void {
  setGroupNice(pid, LOWEST);
  let threads: string[] = [];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    // Not Linux: the process's first thread alone.
  }
  for (const tid of threads.length === 0 ? [pid === 'self' ? '0' : String(pid)] : threads) {
    try {
      setPriority(Number(tid), LOWEST);
    } catch {
      // A thread that has just ended.
    }
  }
}

/** This process's session group back at the usual priority (its threads stay lowered: only a privileged process may raise them). */
export function stopYielding(): void {
  setGroupNice('self', 0);
}

function setGroupNice(pid: number | 'self', nice: number): void {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch {
    // No autogroups (another system, or a kernel without them): the threads' nice values are all there is.
  }
}
