// What the live tests share: whether Frida loads here, building the C targets, recording one
// through the CLI and reading the trace back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../host/base/paths.js';
import { runCli, tempDir } from './helpers.js';

const fridaMissing = await import('frida').then(() => null, (e: Error) => e.message);
/** The skip reason for live tests where the frida package's native binding does not load. */
export const skip = fridaMissing === null ? false
  : `live recording needs the frida package's native binding, which did not load (${fridaMissing.split('\n')[0]})`;

const dir = tempDir();
export const program = (name: string) => join(dir, name);
export const scratch = (name: string) => join(dir, name);

/** Compiles test/live/NAME.c (NAME.cc with g++; a shared library with -shared in `flags`) into the scratch directory. */
export function build(name: string, flags: string[] = [], output = name): void {
  const cxx = existsSync(packagePath('test', 'live', `${name}.cc`));
  const source = packagePath('test', 'live', `${name}.${cxx ? 'cc' : 'c'}`);
  const r = spawnSync(cxx ? 'g++' : 'gcc', ['-O1', ...flags, '-o', program(output), source], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

export function recordTrace(name: string, args: string[], programArgs: string[] = []): string {
  const db = join(dir, `${name}-${Math.random().toString(36).slice(2)}.db`);
  // In the scratch directory: what a target writes where it runs (a -pg build's gmon.out) stays there.
  const r = runCli(['record', '-o', db, ...args, '-f', program(name), ...programArgs], { cwd: dir });
  assert.equal(r.code, 0, `record ${name}: ${r.stderr}\n${r.stdout}`);
  return db;
}

export function query(db: string, sql: string): Record<string, unknown>[] {
  const r = runCli(['query', db, sql, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export const count = (db: string, sql: string) => Number(Object.values(query(db, sql)[0])[0]);
