import type { Device, Session } from 'frida';
import { UserError } from '../base/errors.js';

export type TargetChoice =
  | { spawn: string[] }
  | { pid: number }
  | { name: string };

export interface OpenTarget {
  session: Session;
  pid: number;
  name: string;
  /** Spawned and waiting: resume it once the agent is ready. */
  spawned: boolean;
}

/** Turns Frida's errors for a target into one sentence the user can act on. */
function targetError(what: string, e: unknown): UserError {
  const message = (e as Error).message ?? String(e);
  if (/unable to find process|process not found|no such process/i.test(message)) return new UserError(`${what}: no such process`);
  if (/permission|access|ptrace/i.test(message)) {
    return new UserError(`${what}: attach refused (${message}); run as the process's user or root, or allow ptrace (kernel.yama.ptrace_scope)`);
  }
  if (/unable to find executable|not found|ENOENT/i.test(message)) return new UserError(`${what}: not found (${message})`);
  return new UserError(`${what}: ${message}`);
}

/** `env`: variables a spawned program gets beside (or in place of) stalk-trace's own. */
export async function openTarget(device: Device, target: TargetChoice, env: Record<string, string> = {}): Promise<OpenTarget> {
  if ('spawn' in target) {
    const [program] = target.spawn;
    let pid: number;
    try {
      // The program's output goes where stalk-trace's goes, as under strace.
      pid = await device.spawn(target.spawn, { stdio: 'inherit', ...(Object.keys(env).length === 0 ? {} : { env }) });
    } catch (e) {
      throw targetError(`cannot spawn ${program}`, e);
    }
    try {
      return { session: await device.attach(pid), pid, name: program.split('/').pop()!, spawned: true };
    } catch (e) {
      await device.kill(pid).catch(() => {});
      throw targetError(`cannot attach to ${program} (pid ${pid})`, e);
    }
  }
  const what = 'pid' in target ? `process ${target.pid}` : `process "${target.name}"`;
  try {
    if ('pid' in target) return { session: await device.attach(target.pid), pid: target.pid, name: String(target.pid), spawned: false };
    const matches = (await device.enumerateProcesses()).filter((p) => p.name === target.name);
    if (matches.length === 0) throw new UserError(`${what}: no such process`);
    if (matches.length > 1) throw new UserError(`${what}: ${matches.length} processes have that name (${matches.map((p) => p.pid).join(', ')}); use -p PID`);
    return { session: await device.attach(matches[0].pid), pid: matches[0].pid, name: target.name, spawned: false };
  } catch (e) {
    throw e instanceof UserError ? e : targetError(what, e);
  }
}
