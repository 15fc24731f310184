// What an instruction leaves for its insn record (cmodule/insn-values-<arch>.c), decided from
// Capstone's details for real encodings: compiled natively against the system's Capstone by
// every C compiler found, and run on a table of instructions per arch. Register ids are the
// schema's (records.json insnRegisters).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packagePath } from '../host/base/paths.js';
import { cCompilers, tempDir } from './helpers.js';

const CAPSTONE = '/usr/include/capstone';

// x64: r0 rax, r2 rcx, r4 rsi, r5 rdi, r6 rbp, r7 rsp, r11 r11, r17 rflags, r32 xmm0, r48 ymm0.
// op-1 is the slot a push writes, op-2 the one a pop reads, op-3 the one leave reads.
const X64: Array<[hex: string, expected: string]> = [
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
  ['65488b042528000000', 'mov: read op-4 8 unrecorded before, reg r0 8'],
  ['0f05', 'syscall: reg r0 8, reg r2 8, reg r11 8'],
  ['488d0408', 'lea: reg r0 8'],
  ['f0480fc107', 'lock xadd: read op0 8 before, write op0 8, reg r0 8'],
  ['e2fe', 'loop: reg r2 8 before delta=-1'],
];

// arm64: r0-r28 x0-x28, r29 fp, r30 lr, r31 sp, r33 nzcv, r64-r95 q0-q31. Each word is
// little-endian, as in memory, assembled by aarch64-linux-gnu-as (source in the comment); the
// address is 0x1000. A pair or a vector list is one access of all its bytes; an unrecorded
// register entry (bytes 0) is a register the record has no id for. Capstone 4 corrects: cmp
// and tst list their source as written, svc lists lr, msr its source register, ld1 of three
// registers only two of them; it decodes no LSE atomics, SVE or pointer authentication.
const ARM64: Array<[hex: string, expected: string]> = [
  ['20200091', 'add: reg r0 8'], // add x0, x1, #8
  ['200002ab', 'adds: reg r0 8'], // adds x0, x1, x2
  ['200002ab+flags', 'adds: reg r33 8, reg r0 8'],
  ['ff4300d1', 'sub: reg r31 8'], // sub sp, sp, #16
  ['83040071+flags', 'subs: reg r33 8, reg r3 8'], // subs w3, w4, #1
  ['1f0400f1', 'cmp:'], // cmp x0, #1
  ['1f0400f1+flags', 'cmp: reg r33 8'],
  ['e003012a', 'mov: reg r0 8'], // mov w0, w1
  ['fd030091', 'mov: reg r29 8'], // mov x29, sp
  ['200040f9', 'ldr: read op1 8 before, reg r0 8'], // ldr x0, [x1]
  ['200440b9', 'ldr: read op1 4 before, reg r0 8'], // ldr w0, [x1, #4]
  ['20004039', 'ldrb: read op1 1 before, reg r0 8'], // ldrb w0, [x1]
  ['20686278', 'ldrh: read op1 2 before, reg r0 8'], // ldrh w0, [x1, x2]
  ['200080b9', 'ldrsw: read op1 4 before, reg r0 8'], // ldrsw x0, [x1]
  ['2000c03d', 'ldr: read op1 16 before, reg r64 16'], // ldr q0, [x1]
  ['210040fd', 'ldr: read op1 8 before, reg r65 16'], // ldr d1, [x1]
  ['80000058', 'ldr: read op1 8 before, reg r0 8'], // ldr x0, .+16 (a literal: op1 is its address, 0x1010)
  ['3f0040b9', 'ldr: read op1 4 before'], // ldr wzr, [x1]
  ['208440f8', 'ldr: read op1 8 before, reg r0 8, reg r1 8'], // ldr x0, [x1], #8
  ['208c40f8', 'ldr: read op1 8 before, reg r0 8, reg r1 8'], // ldr x0, [x1, #8]!
  ['e00f1ff8', 'str: write op1 8, reg r31 8'], // str x0, [sp, #-16]!
  ['e00700f9', 'str: write op1 8'], // str x0, [sp, #8]
  ['20000039', 'strb: write op1 1'], // strb w0, [x1]
  ['fd7bbfa9', 'stp: write op2 16, reg r31 8'], // stp x29, x30, [sp, #-16]!
  ['fd7bc1a8', 'ldp: read op2 16 before, reg r29 8, reg r30 8, reg r31 8'], // ldp x29, x30, [sp], #16
  ['400440a9', 'ldp: read op2 16 before, reg r0 8, reg r1 8'], // ldp x0, x1, [x2]
  ['40044069', 'ldpsw: read op2 8 before, reg r0 8, reg r1 8'], // ldpsw x0, x1, [x2]
  ['000400ad', 'stp: write op2 32'], // stp q0, q1, [x0]
  ['000441ad', 'ldp: read op2 32 before, reg r64 16, reg r65 16'], // ldp q0, q1, [x0, #32]
  ['40000094', 'bl: reg r30 8 before constant=0x1004'], // bl .+0x100
  ['00013fd6', 'blr: reg r30 8 before constant=0x1004'], // blr x8
  ['c0035fd6', 'ret:'], // ret
  ['41000054+flags', 'b.ne:'], // b.ne .+8
  ['400000b4', 'cbz:'], // cbz x0, .+8
  ['207c5fc8', 'ldxr: read op1 8 before, reg r0 8'], // ldxr x0, [x1]
  ['207c02c8', 'stxr: write op2 8, reg r2 8'], // stxr w2, x0, [x1]
  ['20fc5f88', 'ldaxr: read op1 4 before, reg r0 8'], // ldaxr w0, [x1]
  ['20fc0288', 'stlxr: write op2 4, reg r2 8'], // stlxr w2, w0, [x1]
  ['408423c8', 'stlxp: write op3 16, reg r3 8'], // stlxp w3, x0, x1, [x2]
  ['010000d4', 'svc: reg r0 8'], // svc #0
  ['00e4004f', 'movi: reg r64 16'], // movi v0.16b, #0
  ['20d4224e', 'fadd: reg r64 16'], // fadd v0.4s, v1.4s, v2.4s
  ['2028621e', 'fadd: reg r64 16'], // fadd d0, d1, d2
  ['0070404c', 'ld1: read op1 16 before, reg r64 16'], // ld1 {v0.16b}, [x0]
  ['00a0df4c', 'ld1: read op2 32 before, reg r64 16, reg r65 16, reg r0 8'], // ld1 {v0.16b, v1.16b}, [x0], #32
  ['0060404c', 'ld1: read op3 48 unrecorded before, reg r64 16, reg r65 16, reg r66 16'], // ld1 {v0.16b-v2.16b}, [x0]
  ['0090000d', 'st1: write op1 4'], // st1 {v0.s}[1], [x0]
  ['00c8404d', 'ld1r: read op1 4 before, reg r64 16'], // ld1r {v0.4s}, [x0]
  ['00441bd5', 'msr: reg r0 0 unrecorded'], // msr fpcr, x0
  ['00421bd5', 'msr:'], // msr nzcv, x0
  ['00421bd5+flags', 'msr: reg r33 8'],
  ['2000a204', 'undecodable'], // add z0.s, z1.s, z2.s (SVE: not in Capstone 4)
];

const TABLES = [
  { arch: 'x64', source: 'insn-values-x86_64.c', table: X64 },
  { arch: 'arm64', source: 'insn-values-arm64.c', table: ARM64 },
];

const compilers = existsSync(join(CAPSTONE, 'capstone.h')) ? cCompilers('instruction values, compiled natively against Capstone') : [];
if (compilers.length === 0 && !existsSync(join(CAPSTONE, 'capstone.h'))) {
  test('instruction values, compiled natively against Capstone', { skip: `no Capstone headers in ${CAPSTONE} (Debian: libcapstone-dev)` }, () => {});
}
const dir = tempDir();

for (const cc of compilers) {
  for (const { arch, source, table } of TABLES) {
    test(`${cc}, ${arch}: each instruction's register writes and memory accesses, from its encoding`, () => {
      const exe = join(dir, `insn-values-${arch}-${cc}`);
      const build = spawnSync(cc, ['-I', packagePath('cmodule'), '-I', CAPSTONE, '-o', exe, packagePath('test', 'native', 'insn-values-check.c'),
        packagePath('cmodule', source), '-lcapstone'], { encoding: 'utf8' });
      assert.equal(build.status, 0, build.stderr);
      const r = spawnSync(exe, [arch, ...table.map(([hex]) => hex)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout.trimEnd().split('\n'), table.map(([, expected]) => expected));
    });
  }
}
