import { spawnSync } from 'node:child_process';
import { openAnalysis } from '../../host/analysis/analysis-db.js';
import { hotspots } from '../../host/analysis/hotspots.js';
import { traceInfo } from '../../host/analysis/info.js';
import { openReadOnly } from '../../host/store/connection.js';
import { openTraceReadOnly, type TraceDb } from '../../host/store/database.js';
import { addRowBatches, rowBatches } from '../../host/store/row-batches.js';
import { eventCursor } from '../../host/store/stored-events.js';
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
  const out = rowsOf(session.db, sql);
  session.close();
  return out;
}

/** Rows as `query` reads them, in batches. */
function rowsOf(db: TraceDb, sql: string): { rows: number; first: unknown } {
  let rows = 0;
  let first: unknown;
  for (const batch of rowBatches(db, sql, db.prepare(sql).columns().length)) {
    if (rows === 0) first = batch[0][0];
    rows += batch.length;
  }
  return { rows, first };
}

/**
 * The peer: events as a table of JavaScript rows over the same decoder, as better-sqlite3 makes
 * one (what the query session had before event-tables.c), named js_events. Only `thread` (`=`)
 * reaches it; SQLite filters and sorts everything else.
 */
function jsRows(trace: string, sql: string): { rows: number; first: unknown } {
  const db = openTraceReadOnly(trace);
  addRowBatches(db);
  const reader = openReadOnly(trace);
  const value: Record<string, number> = { call: 5, ret: 5, block: 6, compile: 6, syscall: 7, sysret: 7, stall: 8, apicall: 9, apiret: 9 };
  db.table('js_events', {
    columns: ['thread_id', 'seq', 'kind', 'depth', 'location_id', 'target_id', 'size', 'syscall_id', 'stall_ns', 'api_call_id'],
    parameters: ['thread'],
    rows: function* (thread?: unknown) {
      for (const e = eventCursor(reader, typeof thread === 'number' ? { thread } : {}); e.next();) {
        const row: unknown[] = [e.threadId, e.seq, e.kind, e.depth, e.locationId, null, null, null, null, null];
        if (value[e.kind] !== undefined) row[value[e.kind]] = e.value;
        yield row;
      }
    },
  });
  const out = rowsOf(db, sql);
  reader.close();
  db.close();
  return out;
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
    const command = args.length === 0 ? '-' : `${commandMs(args).toFixed(0)} ms`;
    rows.push([label, `${ms.toFixed(0)} ms`, target, command, out === undefined ? '' : String(out)]);
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
  measure('calls to one hot function', '< 1000 ms', () => queryRows(trace, callsTo('bench!hash')).rows, ['query', trace, callsTo('bench!hash'), '--csv']);
  // Each events question beside the same question to the peer table of JavaScript rows.
  const events = (label: string, sql: string, target = '-') => {
    measure(label, target, () => queryRows(trace, sql).rows, ['query', trace, sql, '--csv']);
    const peer = sql.replace(/\bevents\b/, 'js_events').replace(/thread_id = (\d+)/, 'thread = $1');
    measure('  peer: JavaScript rows', '-', () => jsRows(trace, peer).rows, []);
  };
  events('every event, by kind (full scan)', 'SELECT kind, count(*) FROM events GROUP BY kind', '< 1000 ms');
  events('every event decoded, by kind', 'SELECT kind, count(*), sum(depth) FROM events GROUP BY kind');
  events('1,000 events of a thread, by seq', 'SELECT * FROM events WHERE thread_id = 1000 AND seq BETWEEN 5000000 AND 5000999');
  events('one location\'s events', 'SELECT count(*) FROM events WHERE location_id = 9');
  report('analysis of the 10M-event trace (best of 3)', ['operation', 'in process', 'target', 'whole command', 'rows'], rows);
  console.log('whole-command figures include start-up: see the start-up table');
}
