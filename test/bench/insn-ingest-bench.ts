// --events insn at scale: a synthetic capture of a tight loop, written through the test scenario
// encoders, ingested in its own process; then the questions instruction records exist for, timed.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCapture } from '../scenario/generate.js';
import type { InsnStep, Scenario } from '../scenario/scenario.js';
import { openAnalysis } from '../../host/analysis/analysis-db.js';
import { mib, rate, report } from './report.js';

const worker = fileURLToPath(new URL('./ingest-worker.js', import.meta.url));

const BASE = 0x555555554000;
/** The loop reads a table of 512 words and writes 512 results, round and round. */
const TABLE = 0x7f0000100000;
const OUT = 0x7f0000200000;
const STACK = 0x7ffffffde000;
const WORDS = 512;

/** 64-bit xorshift: the table's contents, the same every run. */
function tableWords(): bigint[] {
  let x = 0x9e3779b97f4a7c15n;
  return Array.from({ length: WORDS }, () => {
    x ^= (x << 13n) & 0xffffffffffffffffn;
    x ^= x >> 7n;
    x ^= (x << 17n) & 0xffffffffffffffffn;
    return x;
  });
}

const le = (v: bigint, bytes: number) => Array.from({ length: bytes }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));

/**
 * x86_64. Layout 1, the loop (8 instructions, 6 register writes, a read and a write):
 *   mov rax, [rsi+rcx*8]; add rdx, rax; mov r8, rdx; shr r8, 3; mov [rdi+rcx*8], r8;
 *   inc rcx; and rcx, 0x1ff; jne loop
 * Every 64 iterations layout 2, a call's frame (6 instructions, stack traffic and a vector load):
 *   push rbp; mov rbp, rsp; movups xmm0, [rsi]; movzx eax, byte [rsi+rcx]; pop rbp; ret
 * and once per 4096 iterations a read(2) by layout 3 (the syscall instruction).
 */
export function insnLoopScenario(insns: number, threads = 1): Scenario {
  const words = tableWords();
  const outerRuns = Math.max(1, Math.round(insns / threads / (64 * 8 + 6)));
  const perStep = 64;
  const sums = new Map<number, bigint>();
  function* loop(tid: number, from: number, to: number): Generator<InsnStep> {
    let sum = sums.get(tid) ?? BigInt(tid) * 0x1000n;
    for (let outer = from; outer < to; outer++) {
      if (outer === 0) yield { sync: { rsi: TABLE, rdi: OUT, rsp: STACK, rip: BASE + 0x1000 }, at: BASE + 0x1000 };
      for (let i = 0; i < 64; i++) {
        const n = (outer * 64 + i) % WORDS;
        const value = words[n];
        sum = (sum + value) & 0xffffffffffffffffn;
        sums.set(tid, sum);
        const shifted = sum >> 3n;
        yield {
          run: 1, values: [
            { address: TABLE + n * 8, bytes: le(value, 8) }, value, sum, sum, shifted, { address: OUT + n * 8, bytes: le(shifted, 8) },
            BigInt(n + 1), BigInt((n + 1) % WORDS),
          ],
        };
      }
      const n = (outer * 64) % WORDS;
      yield {
        run: 2, values: [
          { address: STACK - 8, bytes: le(BigInt(STACK + 0x40), 8) }, BigInt(STACK - 8), BigInt(STACK - 8),
          { address: TABLE, bytes: [...le(words[0], 8), ...le(words[1], 8)] }, [...le(words[0], 8), ...le(words[1], 8)],
          { address: TABLE + n, bytes: [Number(words[n] & 0xffn)] }, words[n] & 0xffn,
          { address: STACK - 8, bytes: le(BigInt(STACK + 0x40), 8) }, BigInt(STACK + 0x40), BigInt(STACK),
          { address: STACK, bytes: le(BigInt(BASE + 0x1100), 8) }, BigInt(STACK + 8),
        ],
      };
      if (outer % 64 === 63) {
        yield { syscall: { nr: 0, args: [0, OUT, 8], ret: 8, memory: [{ arg: 1, bytes: le(BigInt(outer), 8), atReturn: true }] }, at: BASE + 0x1200 };
        yield { run: 3, values: [8n] };
      }
    }
  }
  const steps: Scenario['steps'] = [{
    load: { name: 'loop', base: BASE, size: 0x10000, functions: [{ name: 'main', offset: 0x1000, size: 0x100 }, { name: 'frame', offset: 0x1100, size: 0x100 }, { name: 'sys', offset: 0x1200, size: 0x10 }] },
  }];
  for (let from = 0; from < outerRuns; from += perStep) {
    for (let t = 0; t < threads; t++) steps.push({ thread: 3000 + t, insns: loop(3000 + t, from, Math.min(outerRuns, from + perStep)) });
  }
  return {
    events: ['syscall', 'insn'],
    chunkRecords: 16384,
    insnLayouts: [
      {
        id: 1, address: BASE + 0x1000,
        code: [[0x48, 0x8b, 0x04, 0xce], [0x48, 0x01, 0xc2], [0x49, 0x89, 0xd0], [0x49, 0xc1, 0xe8, 0x03], [0x4c, 0x89, 0x04, 0xcf],
          [0x48, 0xff, 0xc1], [0x48, 0x81, 0xe1, 0xff, 0x01, 0x00, 0x00], [0x75, 0xe0]],
        entries: [{ insn: 0, read: 8 }, { insn: 0, reg: 'rax' }, { insn: 1, reg: 'rdx' }, { insn: 2, reg: 'r8' }, { insn: 3, reg: 'r8' },
          { insn: 4, write: 8 }, { insn: 5, reg: 'rcx' }, { insn: 6, reg: 'rcx' }],
      },
      {
        id: 2, address: BASE + 0x1100,
        code: [[0x55], [0x48, 0x89, 0xe5], [0x0f, 0x10, 0x06], [0x0f, 0xb6, 0x04, 0x0e], [0x5d], [0xc3]],
        entries: [{ insn: 0, write: 8 }, { insn: 0, reg: 'rsp' }, { insn: 1, reg: 'rbp' }, { insn: 2, read: 16 }, { insn: 2, reg: 'xmm0' },
          { insn: 3, read: 1 }, { insn: 3, reg: 'rax' }, { insn: 4, read: 8 }, { insn: 4, reg: 'rbp' }, { insn: 4, reg: 'rsp' },
          { insn: 5, read: 8 }, { insn: 5, reg: 'rsp' }],
      },
      { id: 3, address: BASE + 0x1200, code: [[0x0f, 0x05]], entries: [{ insn: 0, reg: 'rax' }] },
    ],
    steps,
  };
}

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
