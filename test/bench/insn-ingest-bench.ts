// --events insn at scale: a synthetic capture of a tight loop, written through the test scenario
// encoders, ingested in its own process; then the questions instruction records exist for, timed.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCapture } from '../scenario/generate.js';
import { insnLoopScenario, OUT, STACK } from '../insn-scenarios.js';
import { openAnalysis } from '../../host/analysis/analysis-db.js';
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

/** The questions of a tight loop's trace, each through the documented views, timed (best of 3). */
function queryTimes(dbPath: string, insns: number): string[][] {
  const a = openAnalysis(dbPath);
  try {
    const mid = Math.floor(insns / 2);
    const pop = a.db.prepare("SELECT seq FROM mem_accesses WHERE address = ? AND access = 'r' AND seq > ? ORDER BY seq LIMIT 1").pluck().get(STACK - 8, mid) as number;
    const value = a.db.prepare("SELECT value FROM reg_writes WHERE reg = 'rdx' AND seq > ? ORDER BY seq LIMIT 1").safeIntegers().pluck().get(mid) as bigint;
    const queries: [string, string, unknown[]][] = [
      ['one instruction by seq', 'SELECT * FROM insns WHERE run_seq BETWEEN ? - 255 AND ? AND seq = ?', [mid, mid, mid]],
      ['rdx history, 1000 writes from the middle', "SELECT seq, value FROM reg_writes WHERE reg = 'rdx' AND seq >= ? ORDER BY seq LIMIT 1000", [mid]],
      ['rcx before an instruction', "SELECT seq, value FROM reg_writes WHERE reg = 'rcx' AND seq < ? ORDER BY seq DESC LIMIT 1", [mid]],
      ['writes to one address', "SELECT seq, value FROM mem_accesses WHERE address = ? AND access = 'w' ORDER BY seq", [OUT + 8 * 100]],
      ['who last wrote what an instruction read', `SELECT w.seq FROM mem_accesses r JOIN mem_accesses w ON w.access = 'w' AND w.seq < r.seq
        AND w.address BETWEEN r.address - 32 AND r.address + r.size - 1 AND w.address + w.size > r.address
        WHERE r.seq = ? AND r.access = 'r' ORDER BY w.seq DESC LIMIT 1`, [pop]],
      ['accesses to a 64-byte range', 'SELECT seq, access, address, size FROM mem_accesses WHERE address BETWEEN ? AND ?', [OUT + 64, OUT + 127]],
      ['instructions that produced a value', 'SELECT seq, reg FROM reg_writes WHERE value = ?', [value]],
    ];
    return queries.map(([name, sql, params]) => {
      const stmt = a.db.prepare(sql).safeIntegers();
      let best = Infinity;
      let rows = 0;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        rows = stmt.all(...params).length;
        best = Math.min(best, performance.now() - t0);
      }
      return [name, rows.toLocaleString('en-US'), `${best.toFixed(1)} ms`];
    });
  } finally {
    a.close();
  }
}

/** Ingest rate and bytes per instruction of a ~`insns`-instruction loop capture, and the query times on it. */
export function insnIngestBench(dir: string, insns: number): void {
  const capture = join(dir, 'insn-loop.stcap');
  const t0 = performance.now();
  generateCapture(capture, insnLoopScenario(insns));
  console.log(`\ninsn capture: ${mib(statSync(capture).size)} (generated in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const db = join(dir, 'insn-loop.db');
  const r = ingest(capture, db);
  report('insn ingest: capture -> SQLite (tight loop: 8 instructions, 6 register writes, 2 memory accesses)',
    ['store', 'instructions', 'time', 'instructions/s', 'bytes/instruction', 'peak RSS'],
    [['stalk-trace', r.events.toLocaleString('en-US'), `${r.seconds.toFixed(2)} s`, rate(r.events / r.seconds), (r.bytes / r.events).toFixed(1), mib(r.maxRssBytes)]]);
  report(`insn queries on ${r.events.toLocaleString('en-US')} instructions (target: < 100 ms each)`, ['query', 'rows', 'time'], queryTimes(db, r.events));
}
