// What the live benches share: building a C target of test/bench, reading the nanoseconds it
// timed itself, and running it under a plain Frida script (the baselines beside stalk-trace).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../../host/base/paths.js';

export type Frida = typeof import('frida');

/** The frida package, or null after one line saying why `what` is skipped. */
export async function loadFrida(what: string): Promise<Frida | null> {
  try {
    return await import('frida');
  } catch {
    console.log(`\n== ${what}: skipped, the frida package's native binding does not load here`);
    return null;
  }
}

/** Compiles test/bench/NAME.c into `dir` (as NAME, or NAME-VARIANT); returns the program's path. */
export function buildTarget(dir: string, name: string, flags: string[], variant?: string): string {
  const program = join(dir, variant === undefined ? name : `${name}-${variant}`);
  const cc = spawnSync('gcc', [...flags, '-o', program, packagePath('test', 'bench', `${name}.c`)], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(cc.stderr);
  return program;
}

/** The targets write "NANOSECONDS RESULT" to the file named on their command line. */
export function targetOutput(file: string): { ns: number; result: string } {
  const [ns, result] = readFileSync(file, 'utf8').trim().split(' ');
  return { ns: Number(ns), result };
}

/**
 * A Frida script for a baseline: follows the main thread from main, as the recorder does, with
 * these Stalker options; at exit it sends `delivered`, the value of that expression.
 */
export const followFromMain = (options: string, delivered = 'delivered') => `
  const main = Process.mainModule.findExportByName('main') ?? DebugSymbol.fromName('main').address;
  let delivered = 0;
  const hook = Interceptor.attach(main, { onEnter() { Stalker.follow(this.threadId, ${options}); hook.detach(); } });
  Interceptor.attach(Module.getGlobalExportByName('exit'), { onEnter() { Stalker.flush(); send({ delivered: ${delivered} }); Thread.sleep(0.5); } });
`;

/** Spawns `program args` (args[1]: its time file) with `source` loaded, and waits for it to exit. */
export async function runUnderScript(frida: Frida, program: string, args: string[], source: string): Promise<{ ns: number; delivered: number }> {
  const device = await frida.getLocalDevice();
  const pid = await device.spawn([program, ...args]);
  const session = await device.attach(pid);
  const script = await session.createScript(source);
  let delivered = 0;
  const exited = new Promise<void>((resolve) => session.detached.connect(() => resolve()));
  script.message.connect((m) => {
    if (m.type === 'send') delivered = Number((m.payload as { delivered: number | string }).delivered);
    else console.log(`baseline script: ${JSON.stringify(m)}`);
  });
  await script.load();
  await device.resume(pid);
  // The baselines have no lossless flush: give the last count a moment, then end the target.
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 60_000))]);
  await device.kill(pid).catch(() => {});
  return { ns: targetOutput(args[1]).ns, delivered };
}
