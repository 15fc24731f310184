// The syscall and errno tables in schemas/syscalls/ against the kernel's own headers, as the C
// compiler sees them on this machine (linux-libc-dev), and the C library's error messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRNO_TABLE, SYSCALL_TABLES, syscallSignature } from '../host/symbols/syscall-table.js';
import { tempDir } from './helpers.js';

/** The macros a C source defines after preprocessing. */
function macros(source: string): Map<string, string> {
  const r = spawnSync('gcc', ['-E', '-dM', '-x', 'c', '-'], { input: source, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^#define (\w+) (.+)$/.exec(line);
    if (m) out.set(m[1], m[2].trim());
  }
  return out;
}

/** __NR_name -> number, following aliases such as __NR_fstat -> __NR3264_fstat -> 80. */
function syscallNumbers(source: string): Map<string, number> {
  const defs = macros(source);
  const value = (name: string): number => {
    const v = defs.get(name)?.replace(/^\((.*)\)$/, '$1');
    if (v === undefined) return NaN;
    if (/^\d+$/.test(v)) return Number(v);
    const sum = /^(\w+)\s*\+\s*(\d+)$/.exec(v);
    return sum ? value(sum[1]) + Number(sum[2]) : value(v);
  };
  const out = new Map<string, number>();
  for (const name of defs.keys()) {
    if (name.startsWith('__NR_') && name !== '__NR_syscalls' && name !== '__NR_arch_specific_syscall') out.set(name.slice(5), value(name));
  }
  return out;
}

const HEADERS: Record<string, string> = {
  x64: '#include <asm/unistd_64.h>\n',
  // What arm64's asm/unistd.h (and the kernel, for clone3) define before including the generic table.
  arm64: ['RENAMEAT', 'NEW_STAT', 'SET_GET_RLIMIT', 'TIME32_SYSCALLS', 'MEMFD_SECRET', 'SYS_CLONE3']
    .map((w) => `#define __ARCH_WANT_${w}\n`).join('') + '#define __BITS_PER_LONG 64\n#include <asm-generic/unistd.h>\n',
};

/** These checks read the kernel's headers through gcc: where either is missing they are skipped, saying so. */
const noHeaders = spawnSync('gcc', ['-E', '-x', 'c', '-'], { input: '#include <asm-generic/errno.h>\n', encoding: 'utf8' }).status === 0
  ? false : 'gcc with the kernel headers (Debian: gcc, linux-libc-dev) is not installed here';

for (const [arch, source] of Object.entries(HEADERS)) {
  test(`the ${arch} syscall table numbers every syscall as the kernel headers do`, { skip: noHeaders }, () => {
    const kernel = syscallNumbers(source);
    assert.ok(kernel.size > 250, `only ${kernel.size} syscalls in the headers`);
    const ours = new Map(SYSCALL_TABLES[arch].map(([nr, name]) => [name, nr]));
    assert.deepEqual([...ours].filter(([name, nr]) => kernel.get(name) !== nr), []);
    assert.deepEqual([...kernel].filter(([name, nr]) => ours.get(name) !== nr), []);
  });
}

test('every syscall with a signature exists on x86_64 or arm64', () => {
  const names = new Set(Object.values(SYSCALL_TABLES).flat().map(([, name]) => name));
  for (const name of ['read', 'openat', 'connect', 'mmap', 'clone', 'execve']) assert.notEqual(syscallSignature(name), null, name);
  const described = ['open', 'openat', 'connect', 'read', 'write', 'statx', 'memfd_create', 'renameat2'];
  assert.deepEqual(described.filter((n) => !names.has(n)), []);
});

test('errno numbers and names match the kernel headers, and messages the C library', { skip: noHeaders }, () => {
  const defs = macros('#include <asm-generic/errno.h>\n');
  const kernel = new Map([...defs].filter(([name, v]) => /^E[A-Z0-9]+$/.test(name) && /^\d+$/.test(v)).map(([name, v]) => [name, Number(v)]));
  assert.deepEqual(ERRNO_TABLE.filter(([n, name]) => kernel.get(name) !== n).map(([n, name]) => `${name}=${n}`), []);
  // Every number the kernel defines has its name here (aliases like EWOULDBLOCK share one).
  const numbers = new Set(ERRNO_TABLE.map(([n]) => n));
  assert.deepEqual([...new Set(kernel.values())].filter((n) => !numbers.has(n)), []);

  const dir = tempDir();
  const exe = join(dir, 'strerror');
  writeFileSync(`${exe}.c`, '#include <stdio.h>\n#include <string.h>\nint main(void){for(int i=1;i<134;i++)printf("%d\\t%s\\n",i,strerror(i));return 0;}\n');
  const cc = spawnSync('gcc', ['-o', exe, `${exe}.c`], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  const messages = new Map(spawnSync(exe, { encoding: 'utf8' }).stdout.trim().split('\n').map((l) => l.split('\t')).map(([n, m]) => [Number(n), m]));
  assert.deepEqual(ERRNO_TABLE.filter(([n, , message]) => messages.get(n) !== message).map(([n]) => n), []);
});
