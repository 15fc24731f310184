// npm run bench: measured figures, each beside a baseline measured in the same run.
// BENCH_EVENTS sets the capture size (default 10,000,000), BENCH_INSNS the insn capture's (default the same).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analysisBench } from './analysis-bench.js';
import { ingestBench } from './ingest-bench.js';
import { liveBench } from './live-bench.js';
import { startupBench } from './startup-bench.js';

const events = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const dir = mkdtempSync(join(tmpdir(), 'stalk-trace-bench-'));
try {
  if (process.env.BENCH_ONLY !== 'live') {
    startupBench();
    analysisBench(ingestBench(dir, events));
  }
  await liveBench(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
