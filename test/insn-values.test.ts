// What an instruction leaves for its insn record (cmodule/insn-values-x86_64.c), decided from
// Capstone's details for real encodings: compiled natively against the system's Capstone by
// every C compiler found, and run on a table of instructions. Register ids are the schema's
// (records.json insnRegisters.x64): r0 rax, r2 rcx, r4 rsi, r5 rdi, r6 rbp, r7 rsp, r11 r11,
// r17 rflags, r32 xmm0, r48 ymm0. op-1 is the slot a push writes, op-2 the one a pop reads,
// op-3 the one leave reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packagePath } from '../host/base/paths.js';
import { cCompilers, tempDir } from './helpers.js';

const CAPSTONE = '/usr/include/capstone';
const TABLE: Array<[hex: string, expected: string]> = [
  ['4883ec08', 'sub: reg r7 8'],
  ['4883ec08+flags', 'sub: reg r17 8, reg r7 8'],
  ['488b05c52f0000', 'mov: read op1 8 before, reg r0 8'],
  ['8802', 'mov: write op0 1'],
  ['e8f4ffffff', 'call: write op-1 8 before constant=0x1005, reg r7 8 before delta=-8'],
  ['ff1500100000', 'call: read op0 8 before, write op-1 8 before constant=0x1006, reg r7 8 before delta=-8'],
  ['c3', 'ret: read op-2 8 before, reg r7 8 before delta=8'],
  ['c20800', 'ret: read op-2 8 before, reg r7 8 before delta=16'],
  ['50', 'push: write op-1 8, reg r7 8'],
  ['58', 'pop: read op-2 8 before, reg r7 8, reg r0 8'],
  ['c9', 'leave: read op-3 8 before, reg r6 8, reg r7 8'],
  ['a4', 'movsb: write op0 1, read op1 1 before, reg r5 8, reg r4 8'],
  ['f3a4', 'rep movsb: write op0 1 unrecorded, read op1 1 unrecorded before, reg r5 8, reg r4 8, reg r2 8'],
  ['0f1006', 'movups: read op1 16 before, reg r32 16'],
  // Stores Capstone marks as reads: a move's memory destination is written.
  ['0f1107', 'movups: write op0 16'],
  ['660fd607', 'movq: write op0 8'],
  ['c5f81107', 'vmovups: write op0 16'],
  ['4c8907', 'mov: write op0 8'],
  ['c5fd6f06', 'vmovdqa: read op1 32 before, reg r48 32'],
  ['64488b042528000000', 'mov: read op1 8 before, reg r0 8'],
  ['65488b042528000000', 'mov: read op1 8 unrecorded before, reg r0 8'],
  ['0f05', 'syscall: reg r0 8, reg r2 8, reg r11 8'],
  ['488d0408', 'lea: reg r0 8'],
  ['f0480fc107', 'lock xadd: read op0 8 before, write op0 8, reg r0 8'],
  ['e2fe', 'loop: reg r2 8 before delta=-1'],
];

const compilers = existsSync(join(CAPSTONE, 'capstone.h')) ? cCompilers('instruction values, compiled natively against Capstone') : [];
if (compilers.length === 0 && !existsSync(join(CAPSTONE, 'capstone.h'))) {
  test('instruction values, compiled natively against Capstone', { skip: `no Capstone headers in ${CAPSTONE} (Debian: libcapstone-dev)` }, () => {});
}
const dir = tempDir();

for (const cc of compilers) {
  test(`${cc}: each instruction's register writes and memory accesses, from its encoding`, () => {
    const exe = join(dir, `insn-values-${cc}`);
    const build = spawnSync(cc, ['-I', packagePath('cmodule'), '-I', CAPSTONE, '-o', exe, packagePath('test', 'native', 'insn-values-check.c'),
      packagePath('cmodule', 'insn-values-x86_64.c'), '-lcapstone'], { encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
    const r = spawnSync(exe, TABLE.map(([hex]) => hex), { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), TABLE.map(([, expected]) => expected));
  });
}
