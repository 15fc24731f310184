import { readFileSync } from 'node:fs';
import { packagePath } from '../base/paths.js';

type Table = Array<[number, string]>;

const read = (file: string) => JSON.parse(readFileSync(packagePath('schemas', 'syscalls', file), 'utf8'));
const tables = read('linux.json') as Record<string, Table | string>;
const signatures = read('signatures.json') as {
  flags: Record<string, FlagSet>;
  syscalls: Record<string, string[] | { args: string[]; ret: string }>;
};
const errnos = read('errno.json') as { errno: Array<[number, string, string]> };

/** A set of named values or bits (signatures.json flags). */
export interface FlagSet {
  access?: Record<string, string>;
  values?: Record<string, string>;
  zero?: string;
  common?: Record<string, number>;
  x64?: Record<string, number>;
  arm64?: Record<string, number>;
}

/** Syscall number -> name for an architecture (x64, arm64); empty for one without a table. */
export function syscallNames(arch: string): Map<number, string> {
  const table = tables[arch];
  return new Map(Array.isArray(table) ? table : []);
}

export interface SyscallSignature {
  args: string[];
  ret: string;
}

/** How a syscall's arguments and result are shown; null for one the table does not describe. */
export function syscallSignature(name: string): SyscallSignature | null {
  const s = signatures.syscalls[name];
  if (s === undefined) return null;
  return Array.isArray(s) ? { args: s, ret: 'int' } : s;
}

export function flagSet(name: string): FlagSet | undefined {
  return signatures.flags[name];
}

const byErrno = new Map(errnos.errno.map(([n, name, message]) => [n, { name, message }]));

/** EACCES and "Permission denied" for 13; undefined for a number Linux does not define. */
export function errnoOf(n: number): { name: string; message: string } | undefined {
  return byErrno.get(n);
}

/** Every errno, for tests that check the table against the kernel's headers. */
export const ERRNO_TABLE: ReadonlyArray<readonly [number, string, string]> = errnos.errno;
export const SYSCALL_TABLES: Readonly<Record<string, Table>> = Object.fromEntries(
  Object.entries(tables).filter((e): e is [string, Table] => Array.isArray(e[1])));
