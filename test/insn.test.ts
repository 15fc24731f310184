import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCli, tempDir } from './helpers.js';
import { app, traceOf } from './analysis-fixtures.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { packagePath } from '../host/base/paths.js';
import { generateCapture } from './scenario/generate.js';
import { x64Insns } from './insn-scenarios.js';
import type { Scenario } from './scenario/scenario.js';
import { readInsnLayout, writeInsnLayout } from '../host/capture/insn-records.js';
import { registersRead } from '../host/analysis/insn-lines.js';
import { registerSet } from '../host/model/registers.js';
import { CaptureHeader, InsnLayoutEntry, InsnLayoutHeader, InsnWhat } from '../host/schema/layout.generated.js';

const dir = tempDir();
const trace = traceOf(x64Insns, dir, 'x64');

function rows(sql: string): unknown[] {
  const db = new Database(trace, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

const query = (sql: string) => {
  const r = runCli(['query', trace, sql, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
};

test('instructions get one trace-wide seq, in ingest order, each with its address, size and location', () => {
  const insns = query('SELECT seq, thread_id, address, location, size FROM insns ORDER BY seq');
  assert.deepEqual(insns.map((i) => [i.seq, i.thread_id, i.address, i.size]), [
    [0, 7, 0x401000, 3], [1, 7, 0x401003, 4], [2, 7, 0x401007, 3], [3, 7, 0x40100a, 3],
    [4, 7, 0x401000, 3], [5, 7, 0x401003, 4], [6, 7, 0x401007, 3], [7, 7, 0x40100a, 3],
    [8, 7, 0x401020, 2], [9, 7, 0x401022, 3], [10, 7, 0x401025, 4],
    [11, 8, 0x401000, 3], [12, 8, 0x401003, 4], [13, 8, 0x401007, 3], [14, 8, 0x40100a, 3],
  ]);
  assert.equal(insns[0].location, 'app!main');
  assert.equal(insns[10].location, 'app!main+0x25');
  assert.deepEqual(query('SELECT DISTINCT run_seq, thread_id FROM insns ORDER BY run_seq'),
    [{ run_seq: 0, thread_id: 7 }, { run_seq: 4, thread_id: 7 }, { run_seq: 8, thread_id: 7 }, { run_seq: 9, thread_id: 7 }, { run_seq: 11, thread_id: 8 }]);
  // Stored as one chunk per thread, not a row per run or per instruction.
  assert.deepEqual(rows('SELECT thread_id, first_seq, last_seq, insns FROM insn_chunks ORDER BY id'),
    [{ thread_id: 7, first_seq: 0, last_seq: 10, insns: 11 }, { thread_id: 8, first_seq: 11, last_seq: 14, insns: 4 }]);
});

test('a register history is its writes in seq order; vector values are bytes, unrecorded ones NULL', () => {
  assert.deepEqual(query("SELECT seq, value FROM reg_writes WHERE reg = 'rax' ORDER BY seq"),
    [{ seq: 0, value: 0x1111 }, { seq: 4, value: 0x2222 }, { seq: 8, value: 4 }, { seq: 11, value: 0x3333 }]);
  assert.deepEqual(query("SELECT seq, value FROM reg_writes WHERE reg = 'rdx' ORDER BY seq"),
    [{ seq: 9, value: 0xefbeadde }, { seq: 10, value: 0xefbeaddf }]);
  assert.deepEqual(query("SELECT seq, value FROM reg_writes WHERE reg = 'xmm0' ORDER BY seq").map((r) => [r.seq, r.value]),
    [[3, '000102030405060708090a0b0c0d0e0f'], [7, 'ffffffffffffffffffffffffffffffff'], [14, '00000000000000000000000000000000']]);
  assert.deepEqual(query("SELECT seq, value FROM reg_writes WHERE reg = 'rflags'"), [{ seq: 10, value: null }]);
  assert.deepEqual(query("SELECT seq FROM reg_writes WHERE value = 0x0102030405060708"), [{ seq: 6 }]);
});

test('memory accesses keep address, size and value (up to 8 bytes an integer, as loaded or stored; wider ones and the kernel\'s their bytes); the kernel write of read(2) is placed at the syscall instruction', () => {
  assert.deepEqual(query(`SELECT seq, access, address, size, typeof(value) AS type,
    CASE typeof(value) WHEN 'integer' THEN printf('%x', value) ELSE hex(value) END AS value, syscall_id
    FROM mem_accesses WHERE seq < 11 ORDER BY seq, access, address`), [
    { seq: 1, access: 'w', address: 0x7ff0, size: 8, type: 'integer', value: '1111', syscall_id: null },
    { seq: 2, access: 'r', address: 0x7000, size: 8, type: 'integer', value: '807060504030201', syscall_id: null },
    { seq: 3, access: 'r', address: 0x7100, size: 16, type: 'blob', value: '000102030405060708090A0B0C0D0E0F', syscall_id: null },
    { seq: 5, access: 'w', address: 0x7ff0, size: 8, type: 'integer', value: '2222', syscall_id: null },
    { seq: 6, access: 'r', address: 0x7000, size: 8, type: 'integer', value: '102030405060708', syscall_id: null },
    { seq: 7, access: 'r', address: 0x7100, size: 16, type: 'blob', value: 'FF'.repeat(16), syscall_id: null },
    { seq: 8, access: 'w', address: 0x7200, size: 4, type: 'blob', value: 'DEADBEEF', syscall_id: 1 },
    { seq: 9, access: 'r', address: 0x7200, size: 8, type: 'integer', value: 'efbeadde', syscall_id: null },
  ]);
  // A value found in memory as in a register: rcx was loaded from 0x7000 at seq 2.
  assert.deepEqual(query(`SELECT m.seq, m.address, w.reg FROM mem_accesses m JOIN reg_writes w ON w.seq = m.seq AND w.value = m.value
    WHERE m.access = 'r' AND m.seq = 2`), [{ seq: 2, address: 0x7000, reg: 'rcx' }]);
  // Who last wrote the bytes the instruction at seq 9 read: the kernel, in syscall 1.
  assert.deepEqual(query(`SELECT w.seq, w.syscall_id FROM mem_accesses r JOIN mem_accesses w ON w.access = 'w' AND w.seq < r.seq
    AND w.address < r.address + r.size AND w.address + w.size > r.address WHERE r.seq = 9 AND r.access = 'r' ORDER BY w.seq DESC LIMIT 1`),
  [{ seq: 8, syscall_id: 1 }]);
});

test('syncs keep every register of the sync list before the instruction about to run', () => {
  const sync = query("SELECT seq, thread_id, reason, reg, value FROM insn_syncs WHERE reg IN ('rbx', 'rsp', 'rip', 'rax') ORDER BY reg");
  assert.deepEqual(sync, [
    { seq: 0, thread_id: 7, reason: 'start', reg: 'rax', value: 0 }, { seq: 0, thread_id: 7, reason: 'start', reg: 'rbx', value: 0x1111 },
    { seq: 0, thread_id: 7, reason: 'start', reg: 'rip', value: 0x401000 }, { seq: 0, thread_id: 7, reason: 'start', reg: 'rsp', value: 0x7ff0 },
  ]);
});

test('info counts instructions and the values their records did not carry', () => {
  const out = runCli(['info', trace]).stdout;
  assert.match(out, /^insns {5}15 instructions recorded; values not recorded: 1 register, 0 memory$/m);
  // Calls and syscalls are still events, with the sequence numbers the recording gave them.
  assert.deepEqual(query("SELECT thread_id, seq, kind FROM events WHERE kind IN ('syscall', 'sysret')"),
    [{ thread_id: 7, seq: 5, kind: 'syscall' }, { thread_id: 7, seq: 6, kind: 'sysret' }]);
});

test('register, address and value questions reach the instruction tables, which read only the chunks that can match', () => {
  const plan = (sql: string) => (query(`EXPLAIN QUERY PLAN ${sql}`) as { detail: string }[]).map((r) => r.detail).join('; ');
  // INDEX plan:constraints, two characters each: g register, d address, v value; in seq order, no sort.
  assert.equal(plan("SELECT seq, value FROM reg_writes WHERE reg = 'rax' ORDER BY seq"), 'SCAN reg_writes VIRTUAL TABLE INDEX 0:g=');
  assert.equal(plan('SELECT * FROM mem_accesses WHERE address BETWEEN 0x7000 AND 0x7fff'), 'SCAN mem_accesses VIRTUAL TABLE INDEX 0:dGdL');
  assert.equal(plan('SELECT seq FROM reg_writes WHERE value = 4'), 'SCAN reg_writes VIRTUAL TABLE INDEX 0:v=');
});

test('a malformed instruction layout or record is refused in one sentence, and the ingest fails', () => {
  const beyond = structuredClone(x64Insns);
  beyond.insnLayouts![0].entries[0].insn = 9;
  const undescribed = structuredClone(x64Insns);
  undescribed.insnLayouts![2].undescribed = true;
  for (const [name, s, reason] of [
    ['beyond', beyond, /^stalk-trace: \S+beyond\.stcap is corrupt at byte offset \d+: instruction layout 1 entry 0 names instruction 9 of a run of 4; run ingest again with --keep-good to keep every frame before it$/],
    ['undescribed', undescribed, /^stalk-trace: \S+undescribed\.stcap is corrupt at byte offset \d+: the insn record at slot \d+ names instruction layout 3, which no insnlayout record described; run ingest/],
  ] as [string, Scenario, RegExp][]) {
    const capture = join(dir, `${name}.stcap`);
    generateCapture(capture, s);
    const r = runCli(['ingest', capture, '-o', join(dir, `${name}.db`)]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), reason);
  }
});

test('where a lossy ring dropped a layout, the runs that use it are counted as missing and the rest is stored', () => {
  const dropped = structuredClone(x64Insns);
  dropped.insnLayouts![2].undescribed = true;
  const thread7 = dropped.steps.find((s) => 'thread' in s && s.thread === 7) as { lost?: number };
  thread7.lost = 5;
  const capture = join(dir, 'dropped.stcap');
  generateCapture(capture, dropped);
  const db = join(dir, 'dropped.db');
  const r = runCli(['ingest', capture, '-o', db]);
  assert.equal(r.code, 0, r.stderr);
  const trace = new Database(db, { readonly: true });
  try {
    assert.deepEqual(trace.prepare('SELECT id, lost, missing FROM threads ORDER BY id').all(), [{ id: 7, lost: 5, missing: 1 }, { id: 8, lost: 0, missing: 0 }]);
    // Thread 7 keeps its two runs of layout 1 and its syscall run (9 instructions); thread 8 its one run (4).
    assert.deepEqual(trace.prepare('SELECT thread_id, insns FROM insn_chunks ORDER BY thread_id').all(), [{ thread_id: 7, insns: 9 }, { thread_id: 8, insns: 4 }]);
  } finally {
    trace.close();
  }
});

test('layout decoding refuses an unknown kind of entry, an entry past the values, and a short layout', () => {
  const registers = registerSet('x64');
  const decode = (b: Buffer) => readInsnLayout(new DataView(b.buffer, b.byteOffset, b.byteLength), 0, b.length, 5, 0x1000, registers);
  const good = writeInsnLayout([3, 4], [{ insn: 0, what: InsnWhat.reg, reg: 0, unrecorded: false, bytes: 8 }, { insn: 1, what: InsnWhat.memRead, reg: 0, unrecorded: false, bytes: 4 }]);
  assert.deepEqual(decode(good.payload).entries.map((e) => [e.offset, e.bytes]), [[0, 8], [8, 4]]);
  assert.equal(good.valuesSize, 24);
  const entry1 = InsnLayoutHeader.size + 8 + InsnLayoutEntry.size;
  const unknownKind = Buffer.from(good.payload);
  unknownKind.writeUInt8(9, entry1 + InsnLayoutEntry.what);
  assert.throws(() => decode(unknownKind), { message: 'instruction layout 5 entry 1 is of unknown kind 9' });
  const past = Buffer.from(good.payload);
  past.writeUInt16LE(20, entry1 + InsnLayoutEntry.offset);
  assert.throws(() => decode(past), { message: 'instruction layout 5 entry 1 lies beyond the 24 bytes of values its records carry' });
  assert.throws(() => decode(good.payload.subarray(0, entry1)), { message: 'instruction layout 5 says 2 instructions and 2 entries, more than its record holds' });
});

test('replay --regs prints each instruction with the registers it read and wrote, and its memory accesses, between the events', () => {
  const r = runCli(['replay', trace, '--regs', '--thread', '7', '--from', '5']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'thread 7',
    '#5        syscall read(0, "\\xde\\xad\\xbe\\xef", 4) = 4',
    '[app+0x1020] [0f05] 0x401020: syscall ; => rax=0x4',
    '    mw 0x7200 [4] = deadbeef (written by the kernel in syscall 1)',
    '[app+0x1022] [488b16] 0x401022: mov rdx, qword ptr [rsi] ; reads: rsi=0x7100 => rdx=0xefbeadde',
    '    mr 0x7200 [8] = deadbeef00000000',
    '[app+0x1025] [4883c201] 0x401025: add rdx, 1 ; reads: rdx=0xefbeadde => rdx=0xefbeaddf, rflags=?',
  ]);
  const all = runCli(['replay', trace, '--regs', '--thread', '7']).stdout.split('\n');
  assert.equal(all[1], '[app+0x1000] [4889d8] 0x401000: mov rax, rbx ; reads: rbx=0x1111 => rax=0x1111');
  assert.equal(all[2], '[app+0x1003] [48890424] 0x401003: mov qword ptr [rsp], rax ; reads: rsp=0x7ff0, rax=0x1111');
  assert.equal(all[3], '    mw 0x7ff0 [8] = 1111000000000000');
  assert.equal(all[6], '[app+0x100a] [0f1006] 0x40100a: movups xmm0, xmmword ptr [rsi] ; reads: rsi=0x7100 => xmm0=000102030405060708090a0b0c0d0e0f');
  // Thread 8 has no sync: what it read before writing is not known.
  assert.match(runCli(['replay', trace, '--regs', '--thread', '8']).stdout, /^\[app\+0x1000\] \[4889d8\] 0x401000: mov rax, rbx ; reads: rbx=\? => rax=0x3333$/m);
  // Without --regs, replay is as it was; --regs without instruction records is refused.
  assert.doesNotMatch(runCli(['replay', trace]).stdout, /0x401000:/);
  const plain = traceOf({ steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main' }] }] }, dir, 'plain');
  const refused = runCli(['replay', plain, '--regs']);
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr.trim(), 'stalk-trace: the trace has no instruction records: record with --events insn for --regs');
});

test('a capture of format version 3 (before instruction records) still ingests', () => {
  const v3 = join(dir, 'v3.stcap');
  const bytes = readFileSync(packagePath('test', 'fixtures', 'demo.stcap'));
  bytes.writeUInt16LE(3, CaptureHeader.version);
  writeFileSync(v3, bytes);
  const r = runCli(['ingest', v3, '-o', join(dir, 'v3.db')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(runCli(['query', join(dir, 'v3.db'), 'SELECT count(*) AS n FROM insns', '--json']).stdout.trim(), '{"n":0}');
});

test('the registers an instruction reads are named from its operands, its written-only destination left out', () => {
  const x64 = registerSet('x64');
  const names = (mnemonic: string, operands: string) => registersRead('x64', x64, mnemonic, operands).map((id) => x64.names[id]);
  assert.deepEqual(names('imul', 'r8d, ecx, 0x1000193'), ['rcx']);
  assert.deepEqual(names('imul', 'eax, ecx'), ['rax', 'rcx']);
  assert.deepEqual(names('mov', 'qword ptr [rsp + 8], rdi'), ['rsp', 'rdi']);
  assert.deepEqual(names('movzx', 'ecx, byte ptr [rdi + rax]'), ['rdi', 'rax']);
});
