// npm run bench: measured figures, each beside a baseline measured in the same run.
// BENCH_EVENTS sets the capture size (default 10,000,000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analysisBench } from './analysis-bench.js';
import { ingestBench } from './ingest-bench.js';

const events = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const dir = mkdtempSync(join(tmpdir(), 'stalk-trace-bench-'));
try {
  analysisBench(ingestBench(dir, events));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
