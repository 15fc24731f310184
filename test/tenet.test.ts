// export -F tenet: Tenet's text trace, one file per thread, read back by a parser written to
// Tenet's documented syntax (gaasedelen/tenet tracers/README.md), not to stalk-trace's writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from './helpers.js';
import { app, traceOf } from './analysis-fixtures.js';
import { x64Insns } from './insn-scenarios.js';
import type { Scenario } from './scenario/scenario.js';

const dir = tempDir();
const x64 = traceOf(x64Insns, dir, 'x64');

interface TenetLine {
  /** Registers in the order written, names lower case. */
  regs: [string, bigint][];
  mem: { access: 'mr' | 'mw' | 'mrw'; address: bigint; bytes: string }[];
}

/**
 * Tenet's syntax: comma-separated `name=value` items; a register's value base 16 with 0x; memory
 * `mr|mw|mrw=0xADDR:HEXBYTES`. Checked strictly: every item is one of them, the pc is the last
 * register item and there is one on every line, and no memory item comes before a register item.
 */
function readTenet(text: string, pc: string, registers: string[]): TenetLine[] {
  assert.ok(text.endsWith('\n'), 'the file ends with a newline');
  return text.slice(0, -1).split('\n').map((line, n) => {
    const out: TenetLine = { regs: [], mem: [] };
    for (const item of line.split(',')) {
      const eq = item.indexOf('=');
      assert.ok(eq > 0, `line ${n}: "${item}" is name=value`);
      const name = item.slice(0, eq);
      const value = item.slice(eq + 1);
      if (name === 'mr' || name === 'mw' || name === 'mrw') {
        const m = /^0x([0-9a-f]+):((?:[0-9a-f]{2})+)$/.exec(value);
        assert.ok(m, `line ${n}: memory "${item}" is 0xADDR:HEXBYTES`);
        out.mem.push({ access: name, address: BigInt(`0x${m[1]}`), bytes: m[2] });
      } else {
        assert.ok(registers.includes(name) || name === pc, `line ${n}: "${name}" is a register Tenet reads`);
        assert.equal(out.mem.length, 0, `line ${n}: registers come before memory`);
        assert.match(value, /^0x[0-9a-f]+$/, `line ${n}: ${name} is base 16`);
        out.regs.push([name, BigInt(value)]);
      }
    }
    assert.equal(out.regs.at(-1)?.[0], pc, `line ${n}: ${pc} is the last register`);
    assert.equal(out.regs.filter(([r]) => r === pc).length, 1);
    return out;
  });
}

const X64_REGS = ['rax', 'rbx', 'rcx', 'rdx', 'rbp', 'rsp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const ARM64_REGS = [...Array.from({ length: 31 }, (_, i) => `x${i}`), 'sp'];
const line = (regs: Record<string, number | bigint>, ...mem: [TenetLine['mem'][0]['access'], number, string][]): TenetLine => ({
  regs: Object.entries(regs).map(([r, v]) => [r, BigInt(v)]),
  mem: mem.map(([access, address, bytes]) => ({ access, address: BigInt(address), bytes })),
});

test('x86_64: one file per thread; the first line has every known register, later ones the changes, rip last, the previous instruction\'s memory', () => {
  const out = join(dir, 'x64.tenet');
  const r = runCli(['export', x64, '-F', 'tenet', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('x64.tenet')).sort(), ['x64.tenet.7', 'x64.tenet.8']);

  // Thread 7's sync: rbx 0x1111, rsp 0x7ff0, rsi 0x7100, rdi 0x7000, the other registers 0.
  const t7 = readTenet(readFileSync(`${out}.7`, 'utf8'), 'rip', X64_REGS);
  assert.deepEqual(t7, [
    line({ rax: 0, rbx: 0x1111, rcx: 0, rdx: 0, rbp: 0, rsp: 0x7ff0, rsi: 0x7100, rdi: 0x7000,
      r8: 0, r9: 0, r10: 0, r11: 0, r12: 0, r13: 0, r14: 0, r15: 0, rip: 0x401000 }),
    line({ rax: 0x1111, rip: 0x401003 }), // mov rax, rbx
    line({ rip: 0x401007 }, ['mw', 0x7ff0, '1111000000000000']), // mov [rsp], rax
    line({ rcx: 0x0807060504030201n, rip: 0x40100a }, ['mr', 0x7000, '0102030405060708']), // mov rcx, [rdi]
    line({ rip: 0x401000 }, ['mr', 0x7100, '000102030405060708090a0b0c0d0e0f']), // movups xmm0, [rsi]: no xmm0
    line({ rax: 0x2222, rip: 0x401003 }),
    line({ rip: 0x401007 }, ['mw', 0x7ff0, '2222000000000000']),
    line({ rcx: 0x0102030405060708n, rip: 0x40100a }, ['mr', 0x7000, '0807060504030201']),
    line({ rip: 0x401020 }, ['mr', 0x7100, 'ff'.repeat(16)]),
    // syscall (read(0, 0x7200, 4) = 4): its rax and the bytes the kernel wrote.
    line({ rax: 4, rip: 0x401022 }, ['mw', 0x7200, 'deadbeef']),
    line({ rdx: 0xefbeadde, rip: 0x401025 }, ['mr', 0x7200, 'deadbeef00000000']),
  ]);
  // rflags is not Tenet's, and the last instruction's own changes (rdx 0xefbeaddf) have no line.
  assert.doesNotMatch(readFileSync(`${out}.7`, 'utf8'), /rflags|xmm|efbeaddf/);

  // Thread 8 has no sync: nothing it did not write is known, and nothing is printed as 0.
  assert.equal(readFileSync(`${out}.8`, 'utf8'), [
    'rip=0x401000',
    'rax=0x3333,rip=0x401003',
    'rip=0x401007,mw=0x8ff0:3333000000000000',
    'rcx=0x0,rip=0x40100a,mr=0x8000:0000000000000000',
    '',
  ].join('\n'));

  // -t: that thread alone, at the name given, or on standard output.
  const one = join(dir, 'one.tenet');
  assert.equal(runCli(['export', x64, '-F', 'tenet', '-t', '8', '-o', one]).code, 0);
  assert.equal(readFileSync(one, 'utf8'), readFileSync(`${out}.8`, 'utf8'));
  assert.ok(!existsSync(`${one}.8`));
  assert.equal(runCli(['export', x64, '-F', 'tenet', '-t', '7']).stdout, readFileSync(`${out}.7`, 'utf8'));
});

/**
 * arm64, thread 3: add x0, x0, #1; ldr x1, [sp]; stp x29, x30, [sp, #-16]!; ldadd x2, x3, [sp]
 * (reads and writes the same 8 bytes), run twice.
 */
const arm64Insns: Scenario = {
  arch: 'arm64',
  events: ['call', 'ret', 'insn'],
  insnLayouts: [{
    id: 1, address: 0x400000,
    code: [[0x00, 0x04, 0x00, 0x91], [0xe1, 0x03, 0x40, 0xf9], [0xfd, 0x7b, 0xbf, 0xa9], [0xe3, 0x03, 0x22, 0xf8]],
    entries: [{ insn: 0, reg: 'x0' }, { insn: 1, read: 8 }, { insn: 1, reg: 'x1' }, { insn: 2, write: 16 }, { insn: 2, reg: 'sp' },
      { insn: 3, read: 8 }, { insn: 3, write: 8 }, { insn: 3, reg: 'x3' }],
  }],
  steps: [{ load: app }, {
    thread: 3, insns: [
      { sync: { x0: 5, x2: 1, fp: 0x9100, lr: 0x400100, sp: 0x9000, pc: 0x400000 }, at: 0x400000 },
      { run: 1, values: [6, { address: 0x9000, bytes: [1, 2, 3, 4, 5, 6, 7, 8] }, 0x0807060504030201n,
        { address: 0x8ff0, bytes: [0, 0x91, 0, 0, 0, 0, 0, 0, 0, 1, 0x40, 0, 0, 0, 0, 0] }, 0x8ff0,
        { address: 0x8ff0, bytes: [0, 0x91, 0, 0, 0, 0, 0, 0] }, { address: 0x8ff0, bytes: [1, 0x91, 0, 0, 0, 0, 0, 0] }, 0x9100] },
      { run: 1, values: [7, { address: 0x8ff0, bytes: [1, 0x91, 0, 0, 0, 0, 0, 0] }, 0x9101,
        { address: 0x8fe0, bytes: [0, 0x91, 0, 0, 0, 0, 0, 0, 0, 1, 0x40, 0, 0, 0, 0, 0] }, 0x8fe0,
        { address: 0x8fe0, bytes: [0, 0x91, 0, 0, 0, 0, 0, 0] }, { address: 0x8fe0, bytes: [1, 0x91, 0, 0, 0, 0, 0, 0] }, 0x9100] },
    ],
  }],
};

test('arm64: x0..x30 (fp and lr as x29, x30), sp, pc last; a read and write of the same bytes is one mrw', () => {
  const trace = traceOf(arm64Insns, dir, 'arm64');
  const out = join(dir, 'arm64.tenet');
  const r = runCli(['export', trace, '-F', 'tenet', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const lines = readTenet(readFileSync(`${out}.3`, 'utf8'), 'pc', ARM64_REGS);
  const zeros = Object.fromEntries(Array.from({ length: 29 }, (_, i) => [`x${i}`, 0]));
  assert.deepEqual(lines, [
    line({ ...zeros, x0: 5, x2: 1, x29: 0x9100, x30: 0x400100, sp: 0x9000, pc: 0x400000 }),
    line({ x0: 6, pc: 0x400004 }),
    line({ x1: 0x0807060504030201n, pc: 0x400008 }, ['mr', 0x9000, '0102030405060708']),
    line({ sp: 0x8ff0, pc: 0x40000c }, ['mw', 0x8ff0, '00910000000000000001400000000000']),
    line({ x3: 0x9100, pc: 0x400000 }, ['mrw', 0x8ff0, '0191000000000000']),
    line({ x0: 7, pc: 0x400004 }),
    line({ x1: 0x9101, pc: 0x400008 }, ['mr', 0x8ff0, '0191000000000000']),
    line({ sp: 0x8fe0, pc: 0x40000c }, ['mw', 0x8fe0, '00910000000000000001400000000000']),
  ]);
  // The first line's order: x0..x30, sp, then pc.
  assert.deepEqual(lines[0].regs.map(([n]) => n), [...ARM64_REGS, 'pc']);
  // The second ldadd wrote x3 = 0x9100 again: unchanged, so the last line has no x3 (and no line follows it).
  assert.doesNotMatch(readFileSync(`${out}.3`, 'utf8'), /fp=|lr=|nzcv|q\d/);
});

test('a trace without instruction records is refused in one sentence, and nothing at the output is touched', () => {
  const plain = traceOf({ steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main' }] }] }, dir, 'plain');
  const kept = join(dir, 'kept.tenet');
  writeFileSync(kept, 'keep\n');
  writeFileSync(`${kept}.1`, 'keep\n');
  for (const args of [['-o', kept], ['-t', '1', '-o', kept]]) {
    const r = runCli(['export', plain, '-F', 'tenet', ...args]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'stalk-trace: the trace has no instruction records: record with --events insn for -F tenet\n');
  }
  assert.equal(readFileSync(kept, 'utf8'), 'keep\n');
  assert.equal(readFileSync(`${kept}.1`, 'utf8'), 'keep\n');

  const noThread = runCli(['export', x64, '-F', 'tenet', '-t', '9', '-o', kept]);
  assert.equal(noThread.stderr, 'stalk-trace: thread 9 has no instruction records\n');
  const noName = runCli(['export', x64, '-F', 'tenet']);
  assert.equal(noName.code, 1);
  assert.equal(noName.stderr, 'stalk-trace: tenet writes one file per thread: name a file with -o, or one thread with -t\n');
  assert.equal(readFileSync(kept, 'utf8'), 'keep\n');
});

test('when one thread\'s file cannot be written, no thread\'s file is replaced and nothing is left aside', () => {
  const sub = join(dir, 'fail');
  mkdirSync(sub);
  const out = join(sub, 'trace');
  writeFileSync(`${out}.7`, 'keep\n');
  mkdirSync(`${out}.8`); // thread 8's name is a directory
  const r = runCli(['export', x64, '-F', 'tenet', '-o', out]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `stalk-trace: cannot write ${out}.8: it is a directory\n`);
  assert.equal(readFileSync(`${out}.7`, 'utf8'), 'keep\n');
  assert.deepEqual(readdirSync(sub).sort(), ['trace.7', 'trace.8']);
});

test('export --help names the tenet format, its file per thread and what it leaves out', () => {
  const help = runCli(['export', '--help']).stdout.replace(/\s+/g, ' ');
  assert.match(help, /tenet/);
  assert.match(help, /-o OUT writes OUT\.<tid> for each thread/);
  assert.match(help, /Left out: flags and vector registers/);
});
