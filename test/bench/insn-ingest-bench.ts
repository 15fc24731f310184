// --events insn at scale: a synthetic capture of a tight loop, written through the test scenario
// encoders, ingested in its own process; then the questions instruction records exist for, timed.
// The baseline is the same trace stored as schema 6 did, a row per run, register write and memory
// access with their indexes (rebuilt from the chunks by test/insn-row-layout.ts), queried through
// schema 6's views.
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCapture } from '../scenario/generate.js';
import { insnLoopScenario, OUT, STACK } from '../insn-scenarios.js';
import { openAnalysis } from '../../host/analysis/analysis-db.js';
import { upgradeTrace, type TraceDb } from '../../host/store/database.js';
import { ROW_LAYOUT_VIEWS, toRowLayout } from '../insn-row-layout.js';
import { mib, rate, report } from './report.js';

const worker = fileURLToPath(new URL('./ingest-worker.js', import.meta.url));

interface WorkerResult {
  events: number;
  seconds: number;
  bytes: number;
  maxRssBytes: number;
}

function ingest(capture: string, db: string): WorkerResult {
  const r = spawnSync(process.execPath, [worker, 'insns', capture, db], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`insn ingest failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The questions of a tight loop's trace, as the views name them: [name, SQL, parameters]. */
function questions(db: TraceDb, insns: number): [string, string, unknown[]][] {
  const mid = Math.floor(insns / 2);
  const pop = db.prepare("SELECT seq FROM mem_accesses WHERE address = ? AND access = 'r' AND seq > ? ORDER BY seq LIMIT 1").pluck().get(STACK - 8, mid) as number;
  const value = db.prepare("SELECT value FROM reg_writes WHERE reg = 'rdx' AND seq > ? ORDER BY seq LIMIT 1").safeIntegers().pluck().get(mid) as bigint;
  return [
    ['one instruction by seq', 'SELECT * FROM insns WHERE run_seq BETWEEN ? - 255 AND ? AND seq = ?', [mid, mid, mid]],
    ['rdx history, 1000 writes from the middle', "SELECT seq, value FROM reg_writes WHERE reg = 'rdx' AND seq >= ? ORDER BY seq LIMIT 1000", [mid]],
    ['rax history, first 1000 writes', "SELECT seq, value FROM reg_writes WHERE reg = 'rax' ORDER BY seq LIMIT 1000", []],
    ['rax history, count of all writes', "SELECT count(*) FROM reg_writes WHERE reg = 'rax'", []],
    ['rcx history, count of all writes', "SELECT count(*) FROM reg_writes WHERE reg = 'rcx'", []],
    ['rcx before an instruction', "SELECT seq, value FROM reg_writes WHERE reg = 'rcx' AND seq < ? ORDER BY seq DESC LIMIT 1", [mid]],
    ['writes to one address', "SELECT seq, value FROM mem_accesses WHERE address = ? AND access = 'w' ORDER BY seq", [OUT + 8 * 100]],
    ['who last wrote what an instruction read', `SELECT w.seq FROM mem_accesses r JOIN mem_accesses w ON w.access = 'w' AND w.seq < r.seq
      AND w.address BETWEEN r.address - 32 AND r.address + r.size - 1 AND w.address + w.size > r.address
      WHERE r.seq = ? AND r.access = 'r' ORDER BY w.seq DESC LIMIT 1`, [pop]],
    ['accesses to a 64-byte range', 'SELECT seq, access, address, size FROM mem_accesses WHERE address BETWEEN ? AND ?', [OUT + 64, OUT + 127]],
    ['instructions that produced a value', 'SELECT seq, reg FROM reg_writes WHERE value = ?', [value]],
  ];
}

/** Each question's rows (a count's count) and best time of 3. */
function timed(db: TraceDb, queries: [string, string, unknown[]][]): { rows: number; ms: number }[] {
  return queries.map(([, sql, params]) => {
    const stmt = db.prepare(sql).safeIntegers();
    let ms = Infinity;
    let rows = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const all = stmt.raw().all(...params) as unknown[][];
      ms = Math.min(ms, performance.now() - t0);
      rows = sql.startsWith('SELECT count(*)') ? Number(all[0][0]) : all.length;
    }
    return { rows, ms };
  });
}

/** The questions on the chunked trace and on its schema-6 copy, side by side. */
function queryTimes(chunked: string, rowLayout: string, insns: number): string[][] {
  const a = openAnalysis(chunked);
  const old = new Database(rowLayout, { readonly: true });
  try {
    old.exec(ROW_LAYOUT_VIEWS);
    const queries = questions(a.db, insns);
    const ours = timed(a.db, queries);
    const theirs = timed(old, questions(old, insns));
    return queries.map(([name], i) => [name, ours[i].rows.toLocaleString('en-US'), `${ours[i].ms.toFixed(1)} ms`,
      theirs[i].rows.toLocaleString('en-US'), `${theirs[i].ms.toFixed(1)} ms`]);
  } finally {
    a.close();
    old.close();
  }
}

/** A loop capture of about `insns` instructions, ingested in its own process; the capture is removed after. */
function captureAndIngest(dir: string, insns: number, name: string): WorkerResult & { captureBytes: number; db: string } {
  const capture = join(dir, `${name}.stcap`);
  generateCapture(capture, insnLoopScenario(insns));
  const captureBytes = statSync(capture).size;
  const db = join(dir, `${name}.db`);
  const r = ingest(capture, db);
  rmSync(capture);
  return { ...r, captureBytes, db };
}

/**
 * Ingest rate, bytes per instruction and peak RSS of a ~`insns`-instruction loop capture and of one
 * 5 times larger (BENCH_INSNS_LARGE), the query times on the first, each beside schema 6's rows.
 */
export function insnIngestBench(dir: string, insns: number): void {
  const large = Number(process.env.BENCH_INSNS_LARGE ?? insns * 5);
  const small = captureAndIngest(dir, insns, 'insn-loop');
  const big = captureAndIngest(dir, large, 'insn-loop-large');
  const rowLayout = join(dir, 'insn-loop-rows.db');
  copyFileSync(small.db, rowLayout);
  let t0 = performance.now();
  toRowLayout(rowLayout);
  const rowSeconds = (performance.now() - t0) / 1000;
  // stalk-trace upgrade of that copy: schema 6's rows back into chunks.
  const upgraded = join(dir, 'insn-loop-upgraded.db');
  copyFileSync(rowLayout, upgraded);
  t0 = performance.now();
  upgradeTrace(upgraded);
  const upgradeSeconds = (performance.now() - t0) / 1000;
  const row = (name: string, r: WorkerResult & { captureBytes: number }) => [name, r.events.toLocaleString('en-US'), mib(r.captureBytes),
    `${r.seconds.toFixed(2)} s`, rate(r.events / r.seconds), (r.bytes / r.events).toFixed(1), mib(r.maxRssBytes)];
  report('insn ingest: capture -> SQLite (tight loop: 8 instructions, 6 register writes, 2 memory accesses; target: <= 12 bytes/instruction, RSS flat)',
    ['store', 'instructions', 'capture', 'time', 'instructions/s', 'bytes/instruction', 'peak RSS'], [
      row('stalk-trace (chunks, schema 7)', small),
      row('stalk-trace (chunks, schema 7), larger', big),
      ['rows, as schema 6 stored them', small.events.toLocaleString('en-US'), '', `(rebuilt in ${rowSeconds.toFixed(1)} s)`, '',
        (statSync(rowLayout).size / small.events).toFixed(1), ''],
      ['those rows upgraded to chunks', small.events.toLocaleString('en-US'), '', `${upgradeSeconds.toFixed(2)} s`, rate(small.events / upgradeSeconds),
        (statSync(upgraded).size / small.events).toFixed(1), ''],
    ]);
  rmSync(upgraded);
  rmSync(big.db);
  report(`insn queries on ${small.events.toLocaleString('en-US')} instructions (target: < 100 ms each)`,
    ['query', 'rows', 'chunks (schema 7)', 'rows', 'rows (schema 6)'], queryTimes(small.db, rowLayout, small.events));
}
