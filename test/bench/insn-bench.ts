// --events insn: what recording every instruction costs the target, beside Stalker following
// alone and beside a callout per instruction (the sktrace/QBDI approach), all in the same run;
// what the trace costs on disk and after the target exits; and how fast it answers the questions
// it is for. BENCH_INSN_ITERATIONS sets the loop's length (default 1,250,000: the loop is 8 instructions, so a
// 10M-instruction trace, the size the query goals are set for).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../../host/base/paths.js';
import { chunkHeadersOf } from '../../host/capture/chunks.js';
import { CaptureReader } from '../../host/capture/reader.js';
import { CLI } from '../helpers.js';
import { best, commandMs, queryRows } from './analysis-bench.js';
import { mib, report } from './report.js';
import { buildTarget, followFromMain, loadFrida, runUnderScript, targetOutput } from './targets.js';

const ITERATIONS = Number(process.env.BENCH_INSN_ITERATIONS ?? 1_250_000);
const TITLE = 'instructions (--events insn)';

/** The peer: callout-baseline.c's transform, with the memory it writes allocated here. */
const CALLOUT_SCRIPT = (cSource: string) => `
  const callouts = Memory.alloc(8);
  const cm = new CModule(${JSON.stringify(cSource)}, { callouts, entries: Memory.alloc(65536 * 64) });
  ${followFromMain('{ transform: cm.transform }', 'callouts.readU64().toString()')}
`;

interface Recording {
  ns: number;
  result: string;
  db: string;
  /** `stalk-trace info --json`; null when the command failed. */
  info: TraceInfo | null;
  failure: string | null;
  wallMs: number;
  /** From the target's end, as the trace records it, to the command's. */
  afterExitMs: number;
}

interface TraceInfo {
  events: number;
  eventsByKind: Record<string, number>;
  /** Records dropped (--lossy): an insn record is one run of instructions. */
  lost: number;
  insns: number;
  startedAt: string;
  endedAt: string;
  threads: { stallNs: number }[];
  modules: { name: string; base: string }[];
}

function record(program: string, dir: string, name: string, options: string[]): Recording {
  const db = join(dir, `${name}.db`);
  const time = join(dir, `${name}.ns`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'record', '-o', db, ...options, '-f', program, String(ITERATIONS), time], { encoding: 'utf8' });
  const ended = Date.now();
  const wallMs = performance.now() - t0;
  // A failed ingest still leaves the target's own time: it ran to the end.
  const failure = r.status === 0 ? null : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
  if (!existsSync(time)) throw new Error(`record ${options.join(' ')}: the target did not finish: ${r.stderr}`);
  let info: TraceInfo | null = null;
  if (failure === null) info = JSON.parse(spawnSync(process.execPath, [CLI, 'info', db, '--json'], { encoding: 'utf8' }).stdout);
  return { ...targetOutput(time), db, info, failure, wallMs, afterExitMs: info === null ? NaN : ended - Date.parse(info.endedAt) };
}

export async function insnBench(dir: string): Promise<void> {
  if (process.arch !== 'x64') {
    console.log(`\n== ${TITLE}: skipped, its loop and its callout peer are written for x86_64 (this is ${process.arch})`);
    return;
  }
  const frida = await loadFrida(TITLE);
  if (frida === null) return;
  const program = buildTarget(dir, 'hash-loop', ['-O2']);
  const timeFile = join(dir, 'hash-loop.ns');
  const n = String(ITERATIONS);

  let native = Infinity;
  for (let i = 0; i < 3; i++) {
    spawnSync(program, [n, timeFile]);
    native = Math.min(native, targetOutput(timeFile).ns);
  }
  const stalker = await runUnderScript(frida, program, [n, join(dir, 'stalker.ns')], followFromMain('{}'));
  const callout = await runUnderScript(frida, program, [n, join(dir, 'callout.ns')],
    CALLOUT_SCRIPT(readFileSync(packagePath('test', 'bench', 'callout-baseline.c'), 'utf8')));
  const follow = record(program, dir, 'insn-follow', ['--events', 'call']);
  // (c) three times, the median kept: one run of the drain's threads on a busy 2-core machine varies by 2x.
  const losslessRuns = [0, 1, 2].map((i) => record(program, dir, `insn-lossless-${i}`, ['--events', 'insn', '--keep-capture']))
    .sort((x, y) => x.ns - y.ns);
  const lossless = losslessRuns[1];
  const lossy = record(program, dir, 'insn-lossy', ['--events', 'insn', '--lossy']);
  for (const r of [follow, ...losslessRuns]) if (r.failure !== null) throw new Error(`record: ${r.failure}`);

  // Instructions per iteration, as the trace counted them in work(): its loop, and a few once.
  const insns = Number(queryRows(lossless.db, "SELECT count(*) FROM insns WHERE location LIKE 'hash-loop!work+%'").first);
  const perIteration = insns / ITERATIONS;
  const perInsn = (ns: number) => ns / insns;
  const row = (label: string, ns: number, waited: string, recorded: string) =>
    [label, `${(ns / 1e6).toFixed(1)} ms`, perInsn(ns).toFixed(2), `${(ns / native).toFixed(1)}x`, waited, recorded];
  const count = (v: number, what: string) => `${v.toLocaleString('en-US')} ${what}`;
  const stallNs = lossless.info!.threads.reduce((a, t) => a + t.stallNs, 0);
  const lossyKept = lossy.info === null ? 'ingest failed, see below'
    : `${count(lossy.info.insns, 'insns')}; ${count(lossy.info.eventsByKind.insn ?? 0, 'runs')} kept, ${count(lossy.info.lost, 'records')} dropped`;
  report(`${TITLE}: ${ITERATIONS.toLocaleString('en-US')} iterations of a hash loop, ${perIteration.toFixed(2)} instructions each ` +
    '(time measured inside the target)', ['run', 'loop', 'ns/insn', 'vs native', 'waited for drain', 'recorded (whole run)'], [
    row('native (best of 3)', native, '-', '-'),
    row('Stalker following, no events (Frida script)', stalker.ns, '-', '-'),
    row('(a) stalk-trace --events call (no call in the loop)', follow.ns, '-', count(follow.info!.events, 'events')),
    row('(b) callout per insn reading the CPU context', callout.ns, '-', count(callout.delivered, 'callouts')),
    row('(c) stalk-trace --events insn', lossless.ns, `${(stallNs / 1e6).toFixed(1)} ms`, count(lossless.info!.insns, 'insns')),
    row('(d) stalk-trace --events insn --lossy', lossy.ns, '-', lossyKept),
  ]);
  const ratio = (x: number, base: number) => `${x >= base ? (x / base).toFixed(2) : (x / base).toPrecision(2)}x`;
  const over = (x: number) => `${((x - follow.ns) / insns).toFixed(2)} ns`;
  console.log(`(c) is ${ratio(lossless.ns, follow.ns)} (a) and ${ratio(lossless.ns, callout.ns)} (b); ` +
    `not counting its ${(stallNs / 1e6).toFixed(0)} ms waiting for the drain, ${ratio(lossless.ns - stallNs, follow.ns)} (a) and ${ratio(lossless.ns - stallNs, callout.ns)} (b)`);
  console.log(`(d) is ${ratio(lossy.ns, follow.ns)} (a) and ${ratio(lossy.ns, callout.ns)} (b)`);
  console.log(`per instruction over (a): (b) ${over(callout.ns)}, (c) ${over(lossless.ns)} (${over(lossless.ns - stallNs)} not counting waits), (d) ${over(lossy.ns)}`);
  if (lossy.failure !== null) console.log(`(d) --lossy: the recording failed after the target ran: ${lossy.failure}`);
  console.log(`(c) runs: ${losslessRuns.map((r) => `${(r.ns / 1e6).toFixed(1)} ms`).join(', ')}; the median is shown`);
  writeBound(dir, lossless.db.replace(/\.db$/, '.stcap'), stallNs);
  storedBench(lossless);
  queryBench(lossless, program);
}

/**
 * What bounds (c)'s waiting: the bytes its drain appended to the capture (its insn records packed
 * in the chunks drained while the outbox was behind), against the time this machine takes to
 * write as many bytes to a new file beside it (the peer), in the same run.
 */
function writeBound(dir: string, capturePath: string, stallNs: number): void {
  const bytes = statSync(capturePath).size;
  const capture = CaptureReader.open(capturePath);
  const chunks = { all: 0, packed: 0 };
  for (const frame of capture.frames(0, capture.scan().end)) {
    if (frame.type !== 'events') continue;
    for (const c of chunkHeadersOf(frame.payload)) {
      chunks.all++;
      if (c.packs) chunks.packed++;
    }
  }
  capture.close();
  const piece = Buffer.alloc(1 << 20, 0x5a);
  const path = join(dir, 'write-peer.bin');
  const fd = openSync(path, 'wx');
  const t0 = performance.now();
  for (let left = bytes; left > 0; left -= piece.length) writeSync(fd, piece, 0, Math.min(left, piece.length));
  const ms = performance.now() - t0;
  closeSync(fd);
  rmSync(path);
  console.log(`(c) appended ${mib(bytes)} to its capture (${chunks.packed} of ${chunks.all} chunks packed); writing as many bytes to a new file beside it takes ${ms.toFixed(0)} ms here ` +
    `(${(bytes / 1e6 / (ms / 1e3)).toFixed(0)} MB/s), against (c)'s ${(stallNs / 1e6).toFixed(0)} ms waiting for the drain`);
}

/** What the lossless trace costs once the target is gone: disk, and the ingest still to do. */
function storedBench(r: Recording): void {
  const info = r.info!;
  const bytes = statSync(r.db).size;
  const targetMs = Date.parse(info.endedAt) - Date.parse(info.startedAt);
  report('(c) stored', ['trace', 'database', 'bytes/insn', 'whole command', 'recording (start to target exit)', 'ingest after exit'], [
    [`${info.insns.toLocaleString('en-US')} insns`, mib(bytes), (bytes / info.insns).toFixed(1), `${(r.wallMs / 1000).toFixed(1)} s`,
      `${(targetMs / 1000).toFixed(1)} s`, `${(r.afterExitMs / 1000).toFixed(1)} s`],
  ]);
}

/** The questions an instruction trace is for, on (c): in this process (best of 3) and as whole commands. */
function queryBench(r: Recording, program: string): void {
  const base = BigInt(r.info!.modules.find((m) => m.name === 'hash-loop')!.base);
  const nm = spawnSync('nm', [program], { encoding: 'utf8' }).stdout.match(/^([0-9a-f]+) \w table$/m);
  if (nm === null) throw new Error('nm found no table symbol in hash-loop');
  const table = base + BigInt(`0x${nm[1]}`);
  const rows: string[][] = [];
  const measure = (label: string, sql: string, shown: (a: { rows: number; first: unknown }) => string) => {
    let answer = { rows: 0, first: undefined as unknown };
    const ms = best(() => { answer = queryRows(r.db, sql); });
    rows.push([label, `${ms.toFixed(0)} ms`, `${commandMs(['query', r.db, sql, '--csv']).toFixed(0)} ms`, shown(answer)]);
  };
  const rowCount = (a: { rows: number }) => `${a.rows.toLocaleString('en-US')} rows`;
  measure("rax's history, first 1000 writes", "SELECT seq, value FROM reg_writes WHERE reg = 'rax' ORDER BY seq LIMIT 1000", rowCount);
  measure("rax's history, count of all writes", "SELECT count(*) FROM reg_writes WHERE reg = 'rax'", (a) => `${Number(a.first).toLocaleString('en-US')} writes`);
  measure('every write to one address (table[7])', `SELECT seq, value FROM mem_accesses WHERE access = 'w' AND address = ${table + 28n} ORDER BY seq`, rowCount);
  measure('accesses in a range (table[0..15], 64 bytes)',
    `SELECT seq, access, address, value FROM mem_accesses WHERE address BETWEEN ${table} AND ${table + 63n} ORDER BY seq`, rowCount);
  measure("instructions that wrote the final hash's value", `SELECT seq, reg FROM reg_writes WHERE value = ${r.result} ORDER BY seq`, rowCount);
  report('(c) queries (stalk-trace query\'s session)', ['question', 'in process', 'whole command', 'answer'], rows);
}
