// The events and call_events tables (host/store/event-tables.c): every stored event is a row,
// and a constraint, order or grouping the table takes over gives the rows SQLite's own
// filtering and sorting of all rows would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openAnalysis, type AnalysisDb } from '../host/analysis/analysis-db.js';
import { callLists, eventCursor, storedCalls } from '../host/store/stored-events.js';
import { openTraceReadOnly } from '../host/store/database.js';
import { fixtureScenarios } from './fixtures/fixtures.js';
import { tempDir } from './helpers.js';
import { traceOf } from './analysis-fixtures.js';

const dir = tempDir();
// Small chunks, so that windows and threads start and end inside and between them.
const trace = traceOf({ ...fixtureScenarios().demo, chunkRecords: 97 }, dir, 'demo');
// The same events without kind counts, as a trace stored before schema 6 has them.
const uncounted = join(dir, 'uncounted.db');
copyFileSync(trace, uncounted);
const writable = new Database(uncounted);
writable.exec('DELETE FROM event_chunk_kinds');
writable.close();

const rowsOf = (session: AnalysisDb, sql: string) => session.db.prepare(sql).raw().all() as unknown[][];

test('every stored event is a row of events, its value in the column its kind says', () => {
  const db = openTraceReadOnly(trace);
  const want: unknown[][] = [];
  const valueColumn: Record<string, number> = { call: 5, ret: 5, block: 6, compile: 6, syscall: 7, sysret: 7, stall: 8, apicall: 9, apiret: 9 };
  for (const e = eventCursor(db); e.next();) {
    const row: unknown[] = [e.threadId, e.seq, e.kind, e.depth, e.locationId, null, null, null, null, null];
    row[valueColumn[e.kind]] = e.value;
    want.push(row);
  }
  const calls: unknown[][] = [];
  for (const list of callLists(db)) {
    for (const c of storedCalls(list.data)) calls.push([c.threadId, c.seq, c.depth, c.siteId, list.callee_id]);
  }
  db.close();
  assert.ok(new Set(want.map((r) => r[2])).size >= 5, 'the trace has calls, returns, blocks, compiles and syscalls');
  for (const path of [trace, uncounted]) {
    const session = openAnalysis(path);
    assert.deepEqual(rowsOf(session, 'SELECT * FROM events'), want);
    assert.deepEqual(rowsOf(session, 'SELECT typeof(thread_id), typeof(seq), typeof(depth) FROM events LIMIT 1'), [['integer', 'integer', 'integer']]);
    assert.deepEqual(rowsOf(session, 'SELECT * FROM call_events'), calls);
    session.close();
  }
});

/** Queries whose constraints, orders or groupings the tables may take over. */
const eventQueries = [
  'SELECT * FROM events WHERE thread_id = 4243',
  'SELECT * FROM events(4243)',
  'SELECT * FROM events WHERE thread = 4242 AND kind = \'block\'',
  'SELECT * FROM events WHERE thread_id IN (4243, 1, 4242) AND kind IN (\'syscall\', \'sysret\', \'nonsense\')',
  'SELECT * FROM events WHERE thread_id > 4242.5',
  'SELECT * FROM events WHERE thread_id >= 4242 AND thread_id < 4243',
  'SELECT * FROM events WHERE seq BETWEEN 90 AND 300',
  'SELECT * FROM events WHERE thread_id = 4242 AND seq >= 96 AND seq < 97.5',
  'SELECT * FROM events WHERE thread_id = 4242 AND seq > 193.5 AND seq <= 291',
  'SELECT * FROM events WHERE seq = 97',
  'SELECT * FROM events WHERE thread_id = 4242 AND seq = 97.0',
  'SELECT * FROM events WHERE seq = 97.5',
  'SELECT * FROM events WHERE seq > 9223372036854775807 OR seq < -9223372036854775808',
  'SELECT * FROM events WHERE seq > 1e300 OR seq < -1e300 OR seq < 2e-300',
  // Integers sort before text: the first holds for every row, the second for none.
  'SELECT * FROM events WHERE seq < \'5\'',
  'SELECT * FROM events WHERE seq > \'5\'',
  'SELECT * FROM events WHERE thread_id = NULL OR seq = x\'01\'',
  'SELECT * FROM events WHERE kind = \'CALL\'',
  'SELECT * FROM events WHERE kind = \'CALL\' COLLATE NOCASE',
  'SELECT * FROM events WHERE kind = 1',
  'SELECT * FROM events WHERE location_id = 3',
  'SELECT * FROM events WHERE location_id = 3.5 OR location_id = \'3\'',
  'SELECT * FROM events WHERE target_id = 6',
  'SELECT * FROM events WHERE size = 16 OR syscall_id = 2 OR stall_ns = 0 OR api_call_id = 1',
  'SELECT * FROM events WHERE target_id = 6 AND size = 16',
  'SELECT * FROM events WHERE target_id = 6.0 AND location_id = 5 AND target_id = \'6\'',
  'SELECT e.seq, t.name FROM locations t JOIN events e ON e.target_id = t.id WHERE t.name LIKE \'%checksum%\'',
  'SELECT * FROM events WHERE kind = \'syscall\' OR thread_id = 4243',
  'SELECT * FROM events WHERE seq > 2700 ORDER BY seq',
  'SELECT * FROM events WHERE thread_id = 4243 ORDER BY seq',
  'SELECT thread_id, seq FROM events ORDER BY thread_id, seq',
  'SELECT thread_id, seq FROM events ORDER BY thread_id DESC, seq',
  'SELECT kind FROM events ORDER BY kind',
  'SELECT kind FROM events ORDER BY kind DESC',
  'SELECT kind, thread_id, seq, depth FROM events ORDER BY kind, thread_id, seq',
  'SELECT kind, thread_id, seq FROM events WHERE thread_id = 4242 ORDER BY kind DESC, seq',
  'SELECT kind, count(*), sum(seq), min(depth), max(location_id) FROM events GROUP BY kind',
  'SELECT kind, count(*) FROM events GROUP BY kind',
  'SELECT count(*) FROM events',
  'SELECT count(*) FROM events WHERE kind = \'ret\'',
  'SELECT thread_id, kind, count(*) FROM events GROUP BY thread_id, kind',
  'SELECT thread_id, count(*) FROM events WHERE kind IN (\'call\', \'block\') GROUP BY thread_id',
  'SELECT kind, count(*) FROM events WHERE thread_id = 4243 AND seq < 500 GROUP BY kind',
  'SELECT DISTINCT kind FROM events',
  'SELECT DISTINCT thread_id, kind FROM events WHERE seq BETWEEN 100 AND 200',
  'SELECT a.thread_id, a.seq, b.seq FROM events a JOIN events b ON b.thread_id = a.thread_id AND b.seq = a.seq + 1 WHERE a.kind = \'syscall\'',
  'SELECT e.seq, l.name FROM locations l JOIN events e ON e.location_id = l.id WHERE l.name LIKE \'%write%\'',
];

const callQueries = [
  'SELECT * FROM call_events WHERE for_callee = 6',
  'SELECT * FROM call_events WHERE callee_id = 6 AND thread_id = 4243',
  'SELECT * FROM call_events WHERE callee_id IN (6, 8) OR thread_id = 4243.0',
  'SELECT * FROM call_events WHERE callee_id = \'6\' OR callee_id = 6.5',
  'SELECT callee_id, count(*) FROM call_events GROUP BY callee_id',
];

/** Rows as SQLite gives them from plain tables holding every row: what any plan must return. */
function sameAsPlainTables(session: AnalysisDb, sql: string): void {
  const plain = sql.replace(/\bevents\((\d+)\)/g, 'everything_events WHERE thread_id = $1')
    .replace(/\b(events|call_events)\b/g, 'everything_$1')
    .replace(/\bthread\b/g, 'thread_id').replace(/\bfor_callee\b/g, 'callee_id');
  // Unordered answers are compared as sorted lists.
  const sorted = (rows: unknown[]) => (/ORDER BY/.test(sql) ? rows : rows.map((r) => JSON.stringify(r)).sort());
  assert.deepEqual(sorted(rowsOf(session, sql)), sorted(rowsOf(session, plain)), sql);
}

test('a constraint, order or grouping taken over by events or call_events gives the rows SQLite would', () => {
  for (const path of [trace, uncounted]) {
    const session = openAnalysis(path);
    session.db.exec('CREATE TEMP TABLE everything_events AS SELECT * FROM events');
    session.db.exec('CREATE TEMP TABLE everything_call_events AS SELECT * FROM call_events');
    for (const sql of [...eventQueries, ...callQueries]) sameAsPlainTables(session, sql);
    session.close();
  }
});

test('events reads only the chunks a constraint leaves, and sorts nothing a grouping by kind needs', () => {
  const session = openAnalysis(trace);
  const plan = (sql: string) => rowsOf(session, `EXPLAIN QUERY PLAN ${sql}`).map((r) => r[3]).join('; ');
  assert.match(plan('SELECT * FROM events WHERE thread_id = 4242 AND seq BETWEEN 5 AND 9'), /INDEX \d+:(?=(..)*t=)(?=(..)*sG)(?=(..)*sL)/);
  assert.match(plan("SELECT * FROM events WHERE kind = 'call' AND location_id = 3 AND target_id = 6"), /INDEX \d+:(?=(..)*k=)(?=(..)*l=)(?=(..)*5=)/);
  assert.match(plan("SELECT * FROM resolved_events WHERE target = 'demo!checksum'"), /SCAN e VIRTUAL TABLE INDEX \d+:5=/);
  assert.doesNotMatch(plan('SELECT kind, count(*), sum(depth) FROM events GROUP BY kind'), /B-TREE/);
  assert.doesNotMatch(plan('SELECT * FROM events ORDER BY thread_id, seq'), /B-TREE/);
  // Kinds are read one at a time, from the chunks that hold them.
  assert.deepEqual(rowsOf(session, 'SELECT kind FROM events GROUP BY kind'), ['block', 'call', 'compile', 'ret', 'syscall', 'sysret'].map((k) => [k]));
  session.close();
  const uncountedSession = openAnalysis(uncounted);
  assert.match(rowsOf(uncountedSession, 'EXPLAIN QUERY PLAN SELECT kind, count(*) FROM events GROUP BY kind').map((r) => r[3]).join('; '), /B-TREE/,
    'without kind counts, SQLite sorts');
  uncountedSession.close();
});

test('a query that reads only thread_id and kind is answered from the kind counts', () => {
  const copy = join(dir, 'garbled.db');
  copyFileSync(trace, copy);
  const db = new Database(copy);
  db.exec("UPDATE event_chunks SET data = x'ffffffff'");
  db.close();
  const byKind = 'SELECT thread_id, kind, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2';
  const intact = openAnalysis(trace);
  const want = rowsOf(intact, byKind);
  intact.close();
  const session = openAnalysis(copy);
  assert.deepEqual(rowsOf(session, byKind), want);
  assert.throws(() => rowsOf(session, 'SELECT sum(depth) FROM events'), { message: 'the trace database is damaged: an event chunk of thread 4242 cannot be decompressed' });
  session.close();
});
