import { readFileSync } from 'node:fs';
import { packagePath } from '../paths.js';

type Table = Array<[number, string]>;

const tables = JSON.parse(readFileSync(packagePath('schemas', 'syscalls', 'linux.json'), 'utf8')) as Record<string, Table | string>;

/** Syscall number -> name for an architecture (x64, arm64); empty for one without a table. */
export function syscallNames(arch: string): Map<number, string> {
  const table = tables[arch];
  return new Map(Array.isArray(table) ? table : []);
}
