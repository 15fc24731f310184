import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { packagePath } from '../host/base/paths.js';

/** The command line as installed: the bundle package.json's bin names (host/cli/bundle.mjs). */
export const CLI = packagePath('dist', 'bundle', 'stalk-trace.js');

/**
 * The C compilers the native tests build with (tcc is the family Frida's CModule uses). With
 * none, `what` is registered as one skipped test saying so, rather than no test at all.
 */
export function cCompilers(what: string): string[] {
  const found = ['gcc', 'tcc'].filter((cc) => spawnSync(cc, ['-v'], { stdio: 'ignore' }).status === 0);
  if (found.length === 0) test(what, { skip: 'no C compiler (gcc or tcc) was found' }, () => {});
  return found;
}

/** A temporary directory removed when the test file ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stalk-trace-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command that has not ended after this long hangs: it is killed, and the test fails rather than waits for ever. */
const HANG_MS = 180_000;

export function runCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8', input: options.input, cwd: options.cwd, env: { ...process.env, ...options.env }, maxBuffer: 256 << 20,
    timeout: HANG_MS, killSignal: 'SIGKILL',
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A loopback port nothing listens on: one the kernel just gave out and took back. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls (up to 20 s) until `done` holds. */
export async function until(done: () => boolean): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < 20_000; await sleep(20)) if (done()) return true;
  return done();
}
