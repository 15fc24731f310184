// One Parquet export in its own process, so its peak RSS is its own: node parquet-worker.js TRACE DIR
import { mkdirSync } from 'node:fs';
import { openAnalysis } from '../../host/analysis/analysis-db.js';
import { writeParquetTables } from '../../host/analysis/export/parquet.js';

const [trace, dir] = process.argv.slice(2);
mkdirSync(dir);
const t0 = performance.now();
const session = openAnalysis(trace);
const files = await writeParquetTables(session.db, dir, new AbortController().signal);
session.close();
console.log(JSON.stringify({
  rows: files.reduce((n, f) => n + f.rows, 0),
  seconds: (performance.now() - t0) / 1000,
  bytes: files.reduce((n, f) => n + f.bytes, 0),
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
}));
