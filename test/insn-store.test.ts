// Instruction chunks (schema 7): every filter the instruction tables push down gives exactly the
// rows a scan of everything gives, across chunk boundaries and threads whose chunks overlap;
// values at the edges of what a register or memory entry holds come back exactly; a trace stored
// as rows (schema 6) upgrades to the same answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, statSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openAnalysis } from '../host/analysis/analysis-db.js';
import type { TraceDb } from '../host/store/database.js';
import { runCli, tempDir } from './helpers.js';
import { app, traceOf } from './analysis-fixtures.js';
import { insnLoopScenario, OUT, STACK, TABLE, x64Insns } from './insn-scenarios.js';
import { toRowLayout } from './insn-row-layout.js';
import type { Scenario } from './scenario/scenario.js';

const dir = tempDir();
// Three threads of about 140,000 instructions each, interleaved 64 loop rounds at a time.
const loop = traceOf(insnLoopScenario(420_000, 3), dir, 'loop');

/** A row as SQLite gives it (safe integers): compared whole, its columns by position. */
type Row = any[];

function withSession<T>(path: string, f: (db: TraceDb) => T): T {
  const a = openAnalysis(path);
  try {
    return f(a.db);
  } finally {
    a.close();
  }
}

const rows = (db: TraceDb, sql: string, ...params: unknown[]) => db.prepare(sql).safeIntegers().raw().all(...params) as Row[];

/** Rows in seq order (column 0), as every scan of the instruction tables gives them. */
function assertSeqOrder(all: Row[]): void {
  for (let i = 1; i < all.length; i++) assert.ok((all[i - 1][0] as bigint) <= (all[i][0] as bigint), `row ${i} is out of seq order`);
}

test('the loop trace has chunk boundaries, and threads whose chunks overlap in seq', () => {
  withSession(loop, (db) => {
    assert.deepEqual(rows(db, 'SELECT thread_id, count(*) FROM insn_chunks GROUP BY thread_id'), [[3000n, 3n], [3001n, 3n], [3002n, 3n]]);
    const overlaps = rows(db, `SELECT count(*) FROM insn_chunks a JOIN insn_chunks b ON a.thread_id < b.thread_id
      AND a.first_seq <= b.last_seq AND b.first_seq <= a.last_seq`)[0][0] as bigint;
    assert.ok(overlaps > 0n);
  });
});

test('reg_writes: each pushed filter gives the rows of a full scan that match it', () => {
  withSession(loop, (db) => {
    const all = rows(db, 'SELECT seq, reg, value, thread_id FROM reg_writes');
    assertSeqOrder(all);
    // Per thread: 17,280 loop rounds of 6 writes, 270 frames of 7, 4 syscalls of 1.
    assert.equal(all.length, 3 * (17_280 * 6 + 270 * 7 + 4));
    // A seq window across the first chunk boundary of thread 3001.
    const [boundary] = rows(db, 'SELECT first_seq FROM insn_chunks WHERE thread_id = 3001 ORDER BY first_seq LIMIT 1 OFFSET 1')[0] as bigint[];
    const lo = boundary - 5000n;
    const hi = boundary + 5000n;
    const big = all.find((r) => r[1] === 'rdx' && r[0] > boundary)![2] as bigint;
    assert.ok(big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER), 'a value beyond 2^53');
    const vector = all.find((r) => r[1] === 'xmm0')![2] as Buffer;
    const cases: [string, unknown[], (r: Row) => boolean][] = [
      ["reg = 'rcx'", [], (r) => r[1] === 'rcx'],
      ["reg = 'rdx' AND seq BETWEEN ? AND ?", [lo, hi], (r) => r[1] === 'rdx' && r[0] >= lo && r[0] <= hi],
      ["reg = 'rax' AND thread_id = 3001", [], (r) => r[1] === 'rax' && r[3] === 3001n],
      ['thread_id = 3002 AND seq > ?', [boundary], (r) => r[3] === 3002n && r[0] > boundary],
      ['value = ?', [big], (r) => r[2] === big],
      ['value = ?', [vector], (r) => Buffer.isBuffer(r[2]) && r[2].equals(vector)],
      ["reg = 'nosuch'", [], () => false],
    ];
    for (const [where, params, keep] of cases) {
      assert.deepEqual(rows(db, `SELECT seq, reg, value, thread_id FROM reg_writes WHERE ${where}`, ...params), all.filter(keep), where);
    }
    // Limits from either end read only the chunks they need, in order across threads.
    assert.deepEqual(rows(db, "SELECT seq, reg, value, thread_id FROM reg_writes WHERE reg = 'r8' AND seq >= ? ORDER BY seq LIMIT 100", boundary),
      all.filter((r) => r[1] === 'r8' && r[0] >= boundary).slice(0, 100));
    assert.deepEqual(rows(db, "SELECT seq, reg, value, thread_id FROM reg_writes WHERE reg = 'r8' AND seq < ? ORDER BY seq DESC LIMIT 100", boundary),
      all.filter((r) => r[1] === 'r8' && r[0] < boundary).reverse().slice(0, 100));
    // Counts come from insn_chunk_regs, without decoding a chunk.
    assert.equal(rows(db, "EXPLAIN QUERY PLAN SELECT count(*) FROM reg_writes WHERE reg = 'rax'")[0][3], 'SCAN reg_writes VIRTUAL TABLE INDEX 2:g=');
    assert.deepEqual(rows(db, "SELECT count(*) FROM reg_writes WHERE reg = 'rax'"), [[BigInt(all.filter((r) => r[1] === 'rax').length)]]);
    const perReg = new Map<unknown, bigint>();
    for (const r of all) perReg.set(r[1], (perReg.get(r[1]) ?? 0n) + 1n);
    assert.deepEqual(rows(db, 'SELECT reg, count(*) FROM reg_writes GROUP BY reg ORDER BY reg'), [...perReg].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  });
});

test('mem_accesses: each pushed filter gives the rows of a full scan that match it, the kernel\'s writes among them', () => {
  withSession(loop, (db) => {
    const all = rows(db, 'SELECT seq, access, address, size, value, syscall_id, thread_id FROM mem_accesses');
    assertSeqOrder(all);
    // Per thread: 17,280 loop rounds of 2 accesses, 270 frames of 5, 4 kernel writes.
    assert.equal(all.length, 3 * (17_280 * 2 + 270 * 5 + 4));
    assert.equal(all.filter((r) => r[5] !== null).length, 12);
    const [boundary] = rows(db, 'SELECT first_seq FROM insn_chunks WHERE thread_id = 3000 ORDER BY first_seq LIMIT 1 OFFSET 1')[0] as bigint[];
    const at = (n: number) => BigInt(n);
    const cases: [string, unknown[], (r: Row) => boolean][] = [
      ['address = ?', [OUT + 800], (r) => r[2] === at(OUT + 800)],
      // Pages only written (OUT) and only read (TABLE).
      ["access = 'w' AND address = ?", [OUT + 800], (r) => r[1] === 'w' && r[2] === at(OUT + 800)],
      ["access = 'r' AND address BETWEEN ? AND ?", [TABLE, TABLE + 4095], (r) => r[1] === 'r' && r[2] >= at(TABLE) && r[2] <= at(TABLE + 4095)],
      ['address BETWEEN ? AND ?', [OUT + 64, OUT + 127], (r) => r[2] >= at(OUT + 64) && r[2] <= at(OUT + 127)],
      ["access = 'w' AND address BETWEEN ? AND ?", [STACK - 16, STACK + 16], (r) => r[1] === 'w' && r[2] >= at(STACK - 16) && r[2] <= at(STACK + 16)],
      ["access = 'r' AND address > ?", [STACK - 9], (r) => r[1] === 'r' && r[2] > at(STACK - 9)],
      ['thread_id = 3002 AND seq BETWEEN ? AND ?', [boundary - 3000n, boundary + 3000n], (r) => r[6] === 3002n && r[0] >= boundary - 3000n && r[0] <= boundary + 3000n],
      ['syscall_id IS NOT NULL AND address = ?', [OUT], (r) => r[5] !== null && r[2] === at(OUT)],
      ["access = 'x'", [], () => false],
      // Written in the statement: integers the table filters alone, a real and a text that SQLite checks as well.
      [`address BETWEEN ${OUT + 64} AND ${OUT + 127}`, [], (r) => r[2] >= at(OUT + 64) && r[2] <= at(OUT + 127)],
      [`address > ${STACK - 9}.5`, [], (r) => r[2] > at(STACK - 9)],
      ["address >= '0'", [], () => false],
    ];
    for (const [where, params, keep] of cases) {
      assert.deepEqual(rows(db, `SELECT seq, access, address, size, value, syscall_id, thread_id FROM mem_accesses WHERE ${where}`, ...params),
        all.filter(keep), where);
    }
    // Who last wrote the bytes an instruction read: the latest write before it that overlaps them.
    const read = all.find((r) => r[1] === 'r' && r[2] === at(STACK - 8) && r[0] > boundary)!;
    const writer = all.filter((w) => w[1] === 'w' && w[0] < read[0] && w[2] < at(STACK) && (w[2] as bigint) + (w[3] as bigint) > at(STACK - 8)).at(-1)!;
    assert.deepEqual(rows(db, `SELECT w.seq FROM mem_accesses r JOIN mem_accesses w ON w.access = 'w' AND w.seq < r.seq
      AND w.address BETWEEN r.address - 32 AND r.address + r.size - 1 AND w.address + w.size > r.address
      WHERE r.seq = ? AND r.access = 'r' ORDER BY w.seq DESC LIMIT 1`, read[0]), [[writer[0]]]);
  });
});

test('insns: a seq, a seq range, a thread and run_seq give the rows of a full scan that match them', () => {
  withSession(loop, (db) => {
    const all = rows(db, 'SELECT seq, thread_id, address, location, size, run_seq FROM insns');
    assertSeqOrder(all);
    // Per thread: 270 rounds of 64 loops of 8 instructions and a frame of 6, 4 syscall instructions.
    assert.equal(all.length, 3 * (270 * (64 * 8 + 6) + 4));
    const [boundary] = rows(db, 'SELECT first_seq FROM insn_chunks WHERE thread_id = 3002 ORDER BY first_seq LIMIT 1 OFFSET 1')[0] as bigint[];
    const cases: [string, unknown[], (r: Row) => boolean][] = [
      ['seq = ?', [boundary], (r) => r[0] === boundary],
      ['seq BETWEEN ? AND ?', [boundary - 700n, boundary + 700n], (r) => r[0] >= boundary - 700n && r[0] <= boundary + 700n],
      ['run_seq BETWEEN ? - 255 AND ? AND seq = ?', [boundary + 3n, boundary + 3n, boundary + 3n], (r) => r[0] === boundary + 3n],
      ['thread_id = 3001 AND seq < ?', [boundary], (r) => r[1] === 3001n && r[0] < boundary],
    ];
    for (const [where, params, keep] of cases) {
      assert.deepEqual(rows(db, `SELECT seq, thread_id, address, location, size, run_seq FROM insns WHERE ${where}`, ...params), all.filter(keep), where);
    }
  });
});

/**
 * x86_64, thread 5: layout 1 run three times. rax beyond 2^53 and growing by one (a delta), rbx a
 * negative 64-bit value then a jump (raw), rcx the value rax has (a copy), ymm0 (32 bytes) and a
 * 32-byte read, rdx not recorded and a 48-byte read whose bytes are not recorded.
 */
const edges: Scenario = {
  events: ['insn'],
  insnLayouts: [{
    id: 1, address: 0x401000, code: [[0x90], [0x90], [0x90], [0x90], [0x90]],
    entries: [{ insn: 0, reg: 'rax' }, { insn: 1, reg: 'rbx' }, { insn: 2, reg: 'rcx' }, { insn: 3, read: 32 }, { insn: 3, reg: 'ymm0' },
      { insn: 4, reg: 'rdx', unrecorded: true }, { insn: 4, read: 48, unrecorded: true }],
  }],
  steps: [{ load: app }, {
    thread: 5, insns: [0n, 1n, 2n].map((i) => ({
      run: 1, values: [0xfedcba9876543210n + i, i === 2n ? 0x1234n : -2n - i, 0xfedcba9876543210n + i,
        { address: 0x9000 + Number(i) * 32, bytes: Array.from({ length: 32 }, (_, b) => b + Number(i)) }, Array.from({ length: 32 }, (_, b) => 255 - b),
        0, { address: 0xa000 }],
    })),
  }],
};

test('values at the edges come back exactly: beyond 2^53, negative, copies, 32-byte vectors and reads, unrecorded ones NULL', () => {
  withSession(traceOf(edges, dir, 'edges'), (db) => {
    assert.deepEqual(rows(db, "SELECT seq, value FROM reg_writes WHERE reg IN ('rax', 'rbx', 'rcx', 'rdx') ORDER BY seq"), [
      [0n, -81985529216486896n], [1n, -2n], [2n, -81985529216486896n], [4n, null],
      [5n, -81985529216486895n], [6n, -3n], [7n, -81985529216486895n], [9n, null],
      [10n, -81985529216486894n], [11n, 0x1234n], [12n, -81985529216486894n], [14n, null],
    ]);
    assert.deepEqual(rows(db, 'SELECT seq, reg FROM reg_writes WHERE value = -81985529216486895'), [[5n, 'rax'], [7n, 'rcx']]);
    assert.deepEqual(rows(db, 'SELECT seq FROM reg_writes WHERE value = 0xfffffffffffffffe'), [[1n]]);
    const ymm0 = Buffer.from(Array.from({ length: 32 }, (_, b) => 255 - b));
    assert.deepEqual(rows(db, "SELECT seq, value FROM reg_writes WHERE reg = 'ymm0'"), [[3n, ymm0], [8n, ymm0], [13n, ymm0]]);
    assert.deepEqual(rows(db, 'SELECT seq FROM reg_writes WHERE value = ?', ymm0), [[3n], [8n], [13n]]);
    assert.deepEqual(rows(db, 'SELECT seq, access, address, size, value FROM mem_accesses WHERE seq < 5'), [
      [3n, 'r', 0x9000n, 32n, Buffer.from(Array.from({ length: 32 }, (_, b) => b))],
      [4n, 'r', 0xa000n, 48n, null],
    ]);
    assert.deepEqual(rows(db, 'SELECT seq, size, value FROM mem_accesses WHERE address = 0x9040'),
      [[13n, 32n, Buffer.from(Array.from({ length: 32 }, (_, b) => b + 2))]]);
  });
});

test('a trace that stores instructions as rows (schema 6) upgrades to chunks that answer every question the same', () => {
  const small = traceOf(x64Insns, dir, 'small');
  for (const fresh of [small, loop]) {
    const old = join(dir, `old-${fresh === loop ? 'loop' : 'small'}.db`);
    copyFileSync(fresh, old);
    toRowLayout(old);
    const refused = runCli(['info', old]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is a trace from an older stalk-trace \(schema version 6\)/);
    const rowBytes = statSync(old).size;
    const upgraded = runCli(['upgrade', old]);
    assert.equal(upgraded.stdout, `upgraded ${old} from trace schema version 6 to 9\n`, upgraded.stderr);
    // The rows' pages are given back: the loop's trace ends at a fraction of its size.
    if (fresh === loop) assert.ok(statSync(old).size * 3 < rowBytes, `${statSync(old).size} bytes after the upgrade, ${rowBytes} before`);
    for (const sql of ['SELECT * FROM reg_writes', 'SELECT * FROM mem_accesses', 'SELECT * FROM insns', 'SELECT * FROM insn_syncs ORDER BY seq, reg',
      'SELECT thread_id, first_seq, last_seq, insns FROM insn_chunks ORDER BY thread_id, first_seq', 'SELECT * FROM insn_chunk_regs ORDER BY reg, chunk_id']) {
      const [a, b] = [fresh, old].map((path) => withSession(path, (db) => rows(db, sql)));
      assert.deepEqual(b, a, sql);
    }
  }
  assert.equal(runCli(['replay', join(dir, 'old-small.db'), '--regs']).stdout, runCli(['replay', small, '--regs']).stdout);
});

test('a chunk stores its register writes compressed, its runs and memory addresses as they are, and reads back whole', () => {
  // One outer round of the loop: 64 steps of 8 instructions and 6 more.
  const small = traceOf(insnLoopScenario(518), dir, 'one-round');
  withSession(small, (db) => {
    // Codec 2, deflateRegs (records.json storedCodecs).
    assert.deepEqual(rows(db, 'SELECT count(*), sum(insns), min(codec), max(codec) FROM insn_chunks'), [[1n, 518n, 2n, 2n]]);
    assert.deepEqual(rows(db, 'SELECT count(*) FROM insns'), [[518n]]);
    // Each of the 64 steps reads a table word and writes an output word.
    assert.ok((rows(db, 'SELECT count(*) FROM mem_accesses')[0][0] as bigint) >= 128n);
    assert.ok((rows(db, 'SELECT count(*) FROM reg_writes')[0][0] as bigint) >= 64n);
  });
});

test('chunks stored whole compressed (codec 1, before schema 9) answer as they did, once the trace is upgraded', () => {
  const old = join(dir, 'deflated.db');
  copyFileSync(loop, old);
  const db = new Database(old);
  const chunks = db.prepare('SELECT id, runs, mems FROM insn_chunks WHERE codec = 2').raw().all() as [number, Buffer, Buffer][];
  assert.ok(chunks.length > 1);
  const compress = (b: Buffer) => deflateRawSync(b, { level: 1 });
  for (const [id, runs, mems] of chunks) db.prepare('UPDATE insn_chunks SET codec = 1, runs = ?, mems = ? WHERE id = ?').run(compress(runs), compress(mems), id);
  db.pragma('user_version = 8');
  db.close();
  const upgraded = runCli(['upgrade', old]);
  assert.equal(upgraded.stdout, `upgraded ${old} from trace schema version 8 to 9\n`, upgraded.stderr);
  withSession(old, (db) => assert.deepEqual(rows(db, 'SELECT DISTINCT codec FROM insn_chunks'), [[1n]]));
  for (const sql of ['SELECT * FROM reg_writes', 'SELECT * FROM mem_accesses', 'SELECT * FROM insns',
    `SELECT * FROM mem_accesses WHERE address BETWEEN ${TABLE} AND ${TABLE + 63} ORDER BY seq DESC`]) {
    const [a, b] = [loop, old].map((path) => withSession(path, (db) => rows(db, sql)));
    assert.ok(a.length > 0, sql);
    assert.deepEqual(b, a, sql);
  }
});

test('a damaged chunk is named when a scan reaches it, read ahead or not, and the rows before it are not taken for the answer', () => {
  const damaged = join(dir, 'damaged-chunk.db');
  copyFileSync(loop, damaged);
  const db = new Database(damaged);
  // The third chunk a scan in seq order reaches: by then chunks are decoded ahead of the rows.
  const [id, mems] = db.prepare('SELECT id, mems FROM insn_chunks ORDER BY first_seq LIMIT 1 OFFSET 2').raw().get() as [number, Buffer];
  db.prepare('UPDATE insn_chunks SET mems = ? WHERE id = ?').run(mems.subarray(0, mems.length >> 1), id);
  db.close();
  for (const sql of ['SELECT count(*) FROM mem_accesses', `SELECT seq FROM mem_accesses WHERE address BETWEEN ${TABLE} AND ${TABLE + 63} ORDER BY seq`]) {
    const r = runCli(['query', damaged, sql]);
    assert.equal(r.code, 1, sql);
    assert.equal(r.stderr, `stalk-trace: SQL error: the trace database is damaged: instruction chunk ${id} cannot be read\n`, sql);
  }
  // Another table of the same chunk reads as before.
  assert.equal(runCli(['query', damaged, 'SELECT count(*) FROM insns', '--csv']).stdout, runCli(['query', loop, 'SELECT count(*) FROM insns', '--csv']).stdout);
});
