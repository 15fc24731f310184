import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { ingestCapture } from '../host/ingest/ingest-capture.js';
import { openAnalysis } from '../host/analysis/analysis-db.js';
import { decodeRecords } from '../host/store/stored-codec.js';
import { StoredEvent } from '../host/schema/layout.generated.js';
import { generateCapture } from './scenario/generate.js';
import type { CallSpec, ModuleSpec, Scenario } from './scenario/scenario.js';
import { tempDir } from './helpers.js';

const app: ModuleSpec = {
  name: 'app', base: 0x400000, size: 0x10000,
  functions: [
    { name: 'main', offset: 0x1000, size: 0x100 }, { name: 'tiny', offset: 0x1100, size: 0x40 },
    { name: 'a', offset: 0x1200, size: 0x40 }, { name: 'b', offset: 0x1300, size: 0x40 }, { name: 'f', offset: 0x1400, size: 0x40 },
  ],
};

/** f calling itself `depth` times: its returns are the same record each, one frame lower each time. */
const recursion = (depth: number): CallSpec => depth === 1 ? { fn: 'app!f' } : { fn: 'app!f', children: [recursion(depth - 1)] };

/** What a trace holds, every stored table a report reads, in an order that does not depend on how it was stored. */
const QUERIES = [
  'SELECT thread_id, seq, kind, depth, location_id, target_id, size FROM events ORDER BY thread_id, seq',
  'SELECT thread_id, seq, depth, site_id, callee_id FROM call_events ORDER BY thread_id, seq',
  'SELECT thread_id, function_id, calls, self_cost, total_cost FROM function_stats ORDER BY thread_id, function_id',
  'SELECT thread_id, caller_id, callee_id, calls, total_cost FROM call_edges ORDER BY thread_id, caller_id, callee_id',
  'SELECT id, location_id, start, end, executions FROM blocks ORDER BY id',
  'SELECT id, events, lost, missing, ended FROM threads ORDER BY id',
  'SELECT thread_id, kind, count FROM kind_counts ORDER BY thread_id, kind',
  'SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind',
  'SELECT callee_id, sum(count) FROM call_lists GROUP BY callee_id ORDER BY callee_id',
];

function ingest(s: Scenario, dir: string, name: string) {
  const capture = join(dir, `${name}.stcap`);
  const trace = join(dir, `${name}.db`);
  generateCapture(capture, s);
  ingestCapture(capture, trace, () => {});
  const session = openAnalysis(trace);
  try {
    const answers = QUERIES.map((q) => session.db.prepare(q).raw().all());
    const storedBytes = session.db.prepare('SELECT sum(length(data)) FROM event_chunks').pluck().get() as number;
    // Records as stored, before a reader expands repeats.
    const storedRecords = (session.db.prepare('SELECT codec, data FROM event_chunks').all() as { codec: number; data: Buffer }[])
      .reduce((n, r) => n + decodeRecords(r.codec, r.data, 'a test row').length / StoredEvent.size, 0);
    const calls = Object.fromEntries(session.db.prepare(`SELECT l.name, sum(f.calls) FROM function_stats f JOIN locations l ON l.id = f.function_id
      GROUP BY l.name`).raw().all() as [string, number][]);
    return { answers, storedBytes, storedRecords, calls, captureBytes: statSync(capture).size };
  } finally {
    session.close();
  }
}

/** Ingests the scenario's capture sent as the drain sends loops (folded) and as written, and compares everything stored. */
function sameEitherWay(s: Scenario) {
  const dir = tempDir();
  const folded = ingest({ ...s, foldLoops: true }, dir, 'folded');
  const plain = ingest(s, dir, 'plain');
  QUERIES.forEach((q, i) => assert.deepEqual(folded.answers[i], plain.answers[i], q));
  return { folded, plain };
}

test('a loop sent once with its repeat count stores what the loop written out stores, in a fraction of the bytes', () => {
  const { folded, plain } = sameEitherWay({
    events: ['call', 'ret', 'block'],
    steps: [{ load: app }, {
      thread: 1, calls: [{
        fn: 'app!main', children: [
          { fn: 'app!tiny', count: 20000 },
          { fn: 'app!a', count: 30, blocks: 2, children: [{ fn: 'app!b', count: 40 }] },
        ],
      }],
    }, { thread: 2, calls: [{ fn: 'app!tiny', count: 3000 }] }],
  });
  assert.deepEqual(folded.calls, { 'app!main': 1, 'app!tiny': 23000, 'app!a': 30, 'app!b': 1200 });
  assert.ok(folded.captureBytes * 20 < plain.captureBytes, `capture: ${folded.captureBytes} B folded, ${plain.captureBytes} B written out`);
  assert.ok(folded.storedBytes * 2 < plain.storedBytes, `stored: ${folded.storedBytes} B folded, ${plain.storedBytes} B written out`);
});

test('returns of a recursion, the same record one frame lower each time, store each with its own depth', () => {
  const { folded } = sameEitherWay({
    steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main', children: [recursion(60), { fn: 'app!tiny', count: 50 }, recursion(5)] }] }],
  });
  assert.deepEqual(folded.calls, { 'app!main': 1, 'app!f': 65, 'app!tiny': 50 });
});

test('loops cut across chunks, beside records of other kinds, store the same', () => {
  const { folded } = sameEitherWay({
    chunkRecords: 97,
    events: ['call', 'ret', 'block', 'syscall'],
    steps: [{ load: app }, {
      thread: 1, calls: [{
        fn: 'app!main', children: [
          { fn: 'app!tiny', count: 1000 },
          { fn: 'app!a', count: 20, syscalls: [{ nr: 1, args: [1, 0x1000, 5], ret: 5 }], children: [{ fn: 'app!b', count: 7, blocks: 3 }] },
          { fn: 'app!f', count: 300, noReturn: true },
          { fn: 'app!tiny', count: 500 },
        ],
      }],
    }],
  });
  assert.equal(folded.calls['app!b'], 140);
});

test('a loop whose chunks start inside an iteration (a return, then the next call) is still stored once', () => {
  // 101-record chunks: every other chunk starts with a return, its group a return and a call.
  const { folded, plain } = sameEitherWay({ chunkRecords: 101, steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main', children: [{ fn: 'app!tiny', count: 50000 }] }] }] });
  assert.equal(folded.calls['app!tiny'], 50000);
  assert.equal(plain.storedRecords, 100002);
  assert.ok(folded.storedRecords * 20 < plain.storedRecords, `stored: ${folded.storedRecords} records folded`);
});

test('a stored repeat record with nothing before it to repeat is damage, said in one sentence', () => {
  const dir = tempDir();
  const capture = join(dir, 'loop.stcap');
  const trace = join(dir, 'loop.db');
  generateCapture(capture, { foldLoops: true, steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!tiny', count: 100 }] }] });
  ingestCapture(capture, trace, () => {});
  // A storedEvent of kind repeat (65) first in its row, and a storedCallRepeat (site 0) first in its list.
  const lone = Buffer.alloc(16);
  lone[0] = 65;
  lone.writeUInt32LE(1, 4);
  lone.writeUInt32LE(3, 8);
  const loneCall = Buffer.alloc(16);
  loneCall.writeUInt32LE(3, 0);
  loneCall.writeUInt16LE(1, 14);
  const db = new Database(trace);
  db.prepare('UPDATE event_chunks SET codec = 0, data = ?').run(lone);
  db.prepare('UPDATE call_lists SET codec = 0, data = ?').run(loneCall);
  db.close();
  const session = openAnalysis(trace);
  try {
    assert.throws(() => session.db.prepare('SELECT sum(depth) FROM events').get(),
      { message: 'the trace database is damaged: thread 1 has a repeat record that repeats no events right before it' });
    assert.throws(() => session.db.prepare('SELECT count(*) FROM call_events').get(),
      { message: /^the trace database is damaged: the call list of location \d+ has a repeat record that repeats no calls right before it$/ });
  } finally {
    session.close();
  }
});
