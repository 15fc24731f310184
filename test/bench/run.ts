// npm run bench: measured figures, each beside a baseline measured in the same run.
// BENCH_EVENTS sets the capture size (default 10,000,000), BENCH_INSNS the synthetic insn
// capture's (default the same). BENCH_ONLY=live runs the live sections alone (recording real
// processes), BENCH_ONLY=insn the live instruction section alone, BENCH_ONLY=startup the start-up
// table alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analysisBench } from './analysis-bench.js';
import { ingestBench } from './ingest-bench.js';
import { insnBench } from './insn-bench.js';
import { liveBench } from './live-bench.js';
import { parquetBench } from './parquet-bench.js';
import { startupBench } from './startup-bench.js';

const only = process.env.BENCH_ONLY;
if (only !== undefined && !['live', 'insn', 'startup'].includes(only)) throw new Error(`BENCH_ONLY=${only}: live, insn or startup`);
const events = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const dir = mkdtempSync(join(tmpdir(), 'stalk-trace-bench-'));
try {
  if (only === undefined || only === 'startup') startupBench();
  if (only === undefined) {
    const { trace, small } = ingestBench(dir, events);
    analysisBench(trace);
    await parquetBench(dir, trace, small);
  }
  if (only === undefined || only === 'live') await liveBench(dir);
  if (only === undefined || only === 'live' || only === 'insn') await insnBench(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
