import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { queryRows } from './analysis-bench.js';
import { mib, rate, report } from './report.js';

const worker = fileURLToPath(new URL('./parquet-worker.js', import.meta.url));

interface WorkerResult {
  rows: number;
  seconds: number;
  bytes: number;
  maxRssBytes: number;
}

function exportTrace(trace: string, dir: string): WorkerResult {
  const r = spawnSync(process.execPath, [worker, trace, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`parquet export failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The fastest of three runs, in ms. */
async function bestAsync(run: () => Promise<unknown>): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await run();
    fastest = Math.min(fastest, performance.now() - t0);
  }
  return fastest;
}

/**
 * export -F parquet of the ingest bench's traces (speed, size, and peak RSS at two sizes: it
 * must not grow with the trace), then the issue's questions asked of SQLite in process, as the
 * analysis bench does, and of DuckDB reading the export.
 */
export async function parquetBench(dir: string, trace: string, small: string): Promise<void> {
  const full = join(dir, 'parquet');
  const results: [string, string, WorkerResult][] = [['1/10 trace', small, exportTrace(small, join(dir, 'parquet-small'))], ['full trace', trace, exportTrace(trace, full)]];
  report('export -F parquet (every table)', ['trace', 'rows', 'time', 'rows/s', 'SQLite file', 'Parquet files', 'peak RSS'], results.map(([name, db, r]) => [
    name, r.rows.toLocaleString('en-US'), `${r.seconds.toFixed(2)} s`, rate(r.rows / r.seconds), mib(statSync(db).size), mib(r.bytes), mib(r.maxRssBytes),
  ]));
  const [[, , tenth], [, , whole]] = results;
  console.log(`memory: peak RSS ${mib(tenth.maxRssBytes)} exporting ${tenth.rows.toLocaleString('en-US')} rows, ${mib(whole.maxRssBytes)} for ` +
    `${whole.rows.toLocaleString('en-US')} (target: the same, whatever the trace's size)`);

  const duck = await (await DuckDBInstance.create(':memory:')).connect();
  // Rows are streamed to the client as DuckDB's column chunks, as an engine hands them on.
  const duckRows = async (sql: string) => {
    const result = await duck.stream(sql);
    let rows = 0;
    for (let chunk = await result.fetchChunk(); chunk !== null && chunk.rowCount > 0; chunk = await result.fetchChunk()) rows += chunk.rowCount;
    return rows;
  };
  const rows: string[][] = [];
  for (const [label, sql, table] of [
    ['every event, by kind (full scan)', 'SELECT kind, count(*) FROM events GROUP BY kind', 'events'],
    ['calls to one hot function', "SELECT * FROM calls WHERE callee = 'bench!hash'", 'calls'],
  ]) {
    let sqliteRows = 0;
    const sqliteMs = await bestAsync(async () => { sqliteRows = queryRows(trace, sql).rows; });
    const onParquet = sql.replace(`FROM ${table}`, `FROM '${join(full, `${table}.parquet`)}'`);
    let parquetRows = 0;
    const duckMs = await bestAsync(async () => { parquetRows = await duckRows(onParquet); });
    if (parquetRows !== sqliteRows) throw new Error(`${label}: DuckDB gave ${parquetRows} rows, SQLite ${sqliteRows}`);
    rows.push([label, `${sqliteMs.toFixed(0)} ms`, `${duckMs.toFixed(0)} ms`, sqliteRows.toLocaleString('en-US')]);
  }
  report('the issue\'s questions: SQLite in process vs DuckDB on the Parquet export (best of 3)', ['question', 'SQLite', 'DuckDB', 'rows'], rows);
}
