import { spawnSync } from 'node:child_process';
import { openAnalysis } from '../../host/analysis/analysis-db.js';
import { hotspots } from '../../host/analysis/hotspots.js';
import { traceInfo } from '../../host/analysis/info.js';
import { openTraceReadOnly } from '../../host/store/database.js';
import { CLI } from '../helpers.js';
import { report } from './report.js';

/** The fastest of three runs, in ms. */
export const best = (run: () => void) => Math.min(...[0, 1, 2].map(() => {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}));

/** A whole `stalk-trace` command's wall time, best of 3. */
export function commandMs(args: string[]): number {
  return best(() => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  });
}

/** Rows of a query through the same session `stalk-trace query` opens, and its first value. */
export function queryRows(trace: string, sql: string): { rows: number; first: unknown } {
  const session = openAnalysis(trace);
  let rows = 0;
  let first: unknown;
  for (const row of session.db.prepare(sql).raw().iterate()) if (rows++ === 0) first = (row as unknown[])[0];
  session.close();
  return { rows, first };
}

/**
 * Each operation twice: opened and answered inside this process (what the targets
 * are about), and as a whole command, where Node's start-up is included.
 */
export function analysisBench(trace: string): void {
  const rows: string[][] = [];
  const measure = (label: string, target: string, run: () => number | void, args: string[]) => {
    let out: number | void = undefined;
    const ms = best(() => { out = run(); });
    rows.push([label, `${ms.toFixed(0)} ms`, target, `${commandMs(args).toFixed(0)} ms`, out === undefined ? '' : String(out)]);
  };
  measure('info', '< 200 ms', () => {
    const db = openTraceReadOnly(trace);
    traceInfo(db);
    db.close();
  }, ['info', trace]);
  measure('report hotspots', '< 1000 ms', () => {
    const session = openAnalysis(trace);
    hotspots(session.db);
    session.close();
  }, ['report', 'hotspots', trace]);
  const callsTo = (fn: string) => `SELECT * FROM calls WHERE callee = '${fn}'`;
  measure('calls to one function', '< 100 ms', () => queryRows(trace, callsTo('bench!rare')).rows, ['query', trace, callsTo('bench!rare'), '--csv']);
  measure('calls to one hot function', '-', () => queryRows(trace, callsTo('bench!hash')).rows, ['query', trace, callsTo('bench!hash'), '--csv']);
  measure('every event, by kind (full scan)', '-', () => queryRows(trace, 'SELECT kind, count(*) FROM events GROUP BY kind').rows,
    ['query', trace, 'SELECT kind, count(*) FROM events GROUP BY kind', '--csv']);
  report('analysis of the 10M-event trace (best of 3)', ['operation', 'in process', 'target', 'whole command', 'rows'], rows);
  console.log('whole-command figures include start-up: see the start-up table');
}
