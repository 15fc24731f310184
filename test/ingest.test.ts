import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingestCapture } from '../host/ingest/ingest-capture.js';
import { eventCursor } from '../host/store/stored-events.js';
import { SCHEMA_VERSION } from '../host/store/database.js';
import { generateCapture } from './scenario/generate.js';
import { expectedFor, threadIds } from './scenario/expect.js';
import type { ModuleSpec, Scenario } from './scenario/scenario.js';
import { fixturePath, fixtureScenarios } from './fixtures/fixtures.js';
import { runCli, tempDir } from './helpers.js';
import { CaptureHeader, FrameHeader } from '../host/schema/layout.generated.js';

/** Where the frame after the one at `at` starts. */
const nextFrame = (bytes: Buffer, at: number) => at + FrameHeader.size + bytes.readUInt32LE(at + FrameHeader.length);

const quiet = () => {};

function ingestScenario(s: Scenario, dir = tempDir(), name = 'trace'): { db: Database.Database; capture: string; path: string } {
  const capture = join(dir, `${name}.stcap`);
  const path = join(dir, `${name}.db`);
  generateCapture(capture, s);
  ingestCapture(capture, path, quiet);
  return { db: new Database(path, { readonly: true }), capture, path };
}

const kindCounts = (db: Database.Database, tid?: number) => Object.fromEntries(
  (db.prepare(`SELECT kind, sum(count) AS n FROM kind_counts ${tid === undefined ? '' : 'WHERE thread_id = ?'} GROUP BY kind`)
    .all(...(tid === undefined ? [] : [tid])) as { kind: string; n: number }[]).map((r) => [r.kind, r.n]));

const callsByName = (db: Database.Database) => new Map((db.prepare(`SELECT l.name, sum(f.calls) AS calls
  FROM function_stats f JOIN locations l ON l.id = f.function_id GROUP BY l.name`).all() as { name: string; calls: number }[])
  .map((r) => [r.name, r.calls]));

const statsOf = (db: Database.Database, name: string) => db.prepare(`SELECT sum(f.calls) AS calls, sum(f.self_cost) AS self,
  sum(f.total_cost) AS total FROM function_stats f JOIN locations l ON l.id = f.function_id WHERE l.name = ?`).get(name);

const mainModule: ModuleSpec = {
  name: 'app', base: 0x400000, size: 0x10000,
  functions: [
    { name: 'main', offset: 0x1000, size: 0x100 }, { name: 'a', offset: 0x1100, size: 0x40 },
    { name: 'b', offset: 0x1200, size: 0x40 }, { name: 'f', offset: 0x1300, size: 0x40 },
  ],
};

test('the demo fixture ingests to the counts its description implies', () => {
  const scenario = fixtureScenarios().demo;
  const { db } = ingestScenario(scenario);
  for (const tid of threadIds(scenario)) {
    const want = expectedFor(scenario, tid);
    const got = kindCounts(db, tid);
    assert.equal(got.call, want.calls, `calls of ${tid}`);
    assert.equal(got.ret, want.rets, `returns of ${tid}`);
    assert.equal(got.block, want.blocks, `blocks of ${tid}`);
    assert.equal(got.syscall, want.syscalls, `syscalls of ${tid}`);
    assert.equal(got.sysret ?? 0, want.sysrets, `syscall returns of ${tid}`);
  }
  const want = expectedFor(scenario);
  const calls = callsByName(db);
  for (const [fn, n] of want.callsTo) assert.equal(calls.get(fn), n, fn);
  const events = db.prepare('SELECT sum(count) FROM event_chunks').pluck().get();
  assert.equal(events, want.events);
  assert.equal(kindCounts(db).compile ?? 0, want.compiles);
  assert.equal(db.prepare('SELECT end_reason FROM trace').pluck().get(), 'exited');
});

test('addresses resolve against the module map live when they ran', () => {
  const libA: ModuleSpec = { name: 'libA.so', base: 0x7f0000000000, size: 0x4000, functions: [{ name: 'fa', offset: 0x100, size: 0x20 }] };
  const libB: ModuleSpec = { name: 'libB.so', base: 0x7f0000000000, size: 0x8000, functions: [{ name: 'gb', offset: 0x100, size: 0x20 }] };
  const { db } = ingestScenario({
    steps: [
      { load: mainModule }, { load: libA },
      { thread: 1, calls: [{ fn: 'libA.so!fa', count: 3 }] },
      { unload: 'libA.so' }, { load: libB },
      { thread: 1, calls: [{ fn: 'libB.so!gb', count: 5 }] },
    ],
  });
  const calls = callsByName(db);
  assert.equal(calls.get('libA.so!fa'), 3);
  assert.equal(calls.get('libB.so!gb'), 5);
  const rows = db.prepare('SELECT l.name, m.name AS module, l.offset FROM locations l JOIN modules m ON m.id = l.module_id WHERE l.address = ? ORDER BY l.id')
    .all(0x7f0000000100);
  assert.deepEqual(rows, [{ name: 'libA.so!fa', module: 'libA.so', offset: 0x100 }, { name: 'libB.so!gb', module: 'libB.so', offset: 0x100 }]);
  const libs = db.prepare('SELECT name, load_order, unload_order FROM modules ORDER BY id').all() as { name: string; load_order: number; unload_order: number | null }[];
  assert.equal(libs[1].unload_order, libs[2].load_order - 1);
  assert.equal(libs[2].unload_order, null);
});

test('function costs: calls made below a function, counted once through recursion', () => {
  const { db } = ingestScenario({
    steps: [{ load: mainModule }, {
      thread: 1, calls: [{
        fn: 'app!main', children: [
          { fn: 'app!a', count: 2, children: [{ fn: 'app!b', count: 3 }] },
          { fn: 'app!f', children: [{ fn: 'app!f', children: [{ fn: 'app!f' }] }] },
        ],
      }],
    }],
  });
  assert.equal(db.prepare('SELECT cost_unit FROM trace').pluck().get(), 'calls');
  // main calls a twice and f once; below it: 6 calls to b, 2 nested calls to f.
  assert.deepEqual(statsOf(db, 'app!main'), { calls: 1, self: 3, total: 11 });
  assert.deepEqual(statsOf(db, 'app!a'), { calls: 2, self: 6, total: 6 });
  assert.deepEqual(statsOf(db, 'app!b'), { calls: 6, self: 0, total: 0 });
  // f: three activations, two calls made inside the outermost one.
  assert.deepEqual(statsOf(db, 'app!f'), { calls: 3, self: 2, total: 2 });
  const edges = db.prepare(`SELECT c.name AS caller, e.calls FROM call_edges e JOIN locations c ON c.id = e.caller_id
    JOIN locations t ON t.id = e.callee_id WHERE t.name = 'app!b'`).all();
  assert.deepEqual(edges, [{ caller: 'app!a', calls: 6 }]);
});

test('function costs in blocks when blocks are recorded', () => {
  const { db } = ingestScenario({
    events: ['call', 'ret', 'block'],
    steps: [{ load: mainModule }, {
      thread: 1, calls: [{ fn: 'app!main', blocks: 1, children: [{ fn: 'app!a', count: 2, blocks: 2, children: [{ fn: 'app!b', count: 3, blocks: 3 }] }] }],
    }],
  });
  assert.equal(db.prepare('SELECT cost_unit FROM trace').pluck().get(), 'blocks');
  assert.deepEqual(statsOf(db, 'app!main'), { calls: 1, self: 1, total: 1 + 2 * 2 + 6 * 3 });
  assert.deepEqual(statsOf(db, 'app!a'), { calls: 2, self: 4, total: 4 + 18 });
  assert.deepEqual(statsOf(db, 'app!b'), { calls: 6, self: 18, total: 18 });
  const code = db.prepare("SELECT b.code, b.executions FROM blocks b JOIN locations l ON l.id = b.location_id WHERE l.name = 'app!b'").get() as { code: Buffer; executions: number };
  assert.deepEqual([...code.code], new Array(16).fill(0x90));
  assert.equal(code.executions, 6);
});

test('syscalls keep their arguments and return values; one that never returned has none', () => {
  const { db } = ingestScenario({
    steps: [{ load: mainModule }, {
      thread: 9, calls: [{ fn: 'app!main', syscalls: [{ nr: 1, args: [1, 0x400123, 12], ret: 12 }, { nr: 2, args: [-100, 0x400200, 0], ret: -2 }, { nr: 231, args: [3] }] }],
    }],
  });
  const rows = db.prepare('SELECT thread_id, nr, arg0, arg1, arg2, ret, ret_seq - seq AS gap FROM syscalls ORDER BY seq').all();
  assert.deepEqual(rows, [
    { thread_id: 9, nr: 1, arg0: 1, arg1: 0x400123, arg2: 12, ret: 12, gap: 1 },
    { thread_id: 9, nr: 2, arg0: -100, arg1: 0x400200, arg2: 0, ret: -2, gap: 1 },
    { thread_id: 9, nr: 231, arg0: 3, arg1: 0, arg2: 0, ret: null, gap: null },
  ]);
});

test('lost events and stalls are counted per thread and shown', () => {
  const dir = tempDir();
  const { path } = ingestScenario({
    steps: [{ load: mainModule }, { thread: 1, lost: 7, calls: [{ fn: 'app!a' }] }, { thread: 2, stallNs: 2_500_000, calls: [{ fn: 'app!b' }] }],
  }, dir);
  const db = new Database(path, { readonly: true });
  assert.deepEqual(db.prepare('SELECT id, lost, stall_ns FROM threads ORDER BY id').all(), [
    { id: 1, lost: 7, stall_ns: 0 }, { id: 2, lost: 0, stall_ns: 2_500_000 },
  ]);
  db.close();
  const again = runCli(['ingest', join(dir, 'trace.stcap'), '-o', path]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /lost\s+7 dropped in the target/);
});

test('ingesting the same capture twice stores nothing twice', () => {
  const dir = tempDir();
  const { db, capture, path } = ingestScenario(fixtureScenarios().demo, dir);
  const before = kindCounts(db);
  const chunks = db.prepare('SELECT count(*) FROM event_chunks').pluck().get();
  db.close();
  assert.deepEqual(ingestCapture(capture, path, quiet), { frames: 0 });
  const after = new Database(path, { readonly: true });
  assert.deepEqual(kindCounts(after), before);
  assert.equal(after.prepare('SELECT count(*) FROM event_chunks').pluck().get(), chunks);
  after.close();
});

test('ingest of a torn capture resumes when the whole capture comes', () => {
  const dir = tempDir();
  const scenario = { ...fixtureScenarios().demo, chunkRecords: 100, chunksPerFrame: 2 };
  const whole = join(dir, 'whole.stcap');
  generateCapture(whole, scenario);
  const bytes = readFileSync(whole);
  const torn = join(dir, 'torn.stcap');
  writeFileSync(torn, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  const warnings: string[] = [];
  const resumed = join(dir, 'resumed.db');
  ingestCapture(torn, resumed, (w) => warnings.push(w));
  assert.match(warnings.join('\n'), /dropped a torn last frame at byte offset \d+/);
  const partial = new Database(resumed, { readonly: true });
  assert.equal(partial.prepare('SELECT end_reason FROM trace').pluck().get(), null);
  const partialEvents = partial.prepare('SELECT sum(count) FROM event_chunks').pluck().get() as number;
  partial.close();
  assert.ok(partialEvents > 0);

  ingestCapture(whole, resumed, quiet);
  const fresh = join(dir, 'fresh.db');
  ingestCapture(whole, fresh, quiet);
  const a = new Database(resumed, { readonly: true });
  const b = new Database(fresh, { readonly: true });
  for (const sql of [
    'SELECT thread_id, kind, count FROM kind_counts ORDER BY 1, 2',
    'SELECT thread_id, function_id, calls, self_cost, total_cost FROM function_stats ORDER BY 1, 2',
    'SELECT thread_id, caller_id, callee_id, calls, total_cost FROM call_edges ORDER BY 1, 2, 3',
    // Rows may be cut elsewhere (a thread's chunks are joined up to where an ingest stops): the events are the same.
    'SELECT thread_id, min(first_seq), sum(count) FROM event_chunks GROUP BY thread_id ORDER BY thread_id',
    'SELECT id, name, address FROM locations ORDER BY id',
    'SELECT nr, arg0, ret FROM syscalls ORDER BY thread_id, seq',
  ]) {
    assert.deepEqual(a.prepare(sql).all(), b.prepare(sql).all(), sql);
  }
  const events = (db: Database.Database) => {
    const all: number[][] = [];
    for (const c = eventCursor(db); c.next();) all.push([c.threadId, c.seq, c.kindValue, c.depth, c.locationId, c.value]);
    return all;
  };
  assert.deepEqual(events(a), events(b));
  a.close();
  b.close();
});

test('a corrupt capture writes no database and names the byte offset', () => {
  const dir = tempDir();
  const capture = join(dir, 'c.stcap');
  generateCapture(capture, fixtureScenarios().demo);
  const bytes = readFileSync(capture);
  // The third frame starts after the header and two frames.
  const third = nextFrame(bytes, nextFrame(bytes, CaptureHeader.size));
  bytes[third + FrameHeader.size + 3] ^= 0x55;
  writeFileSync(capture, bytes);
  const r = runCli(['ingest', capture, '-o', join(dir, 'c.db')]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `stalk-trace: ${capture} is corrupt at byte offset ${third}: payload checksum mismatch`);
  assert.equal(existsSync(join(dir, 'c.db')), false);
  assert.equal(existsSync(join(dir, 'c.db.partial')), false);
});

test('a capture that does not start with a trace frame is refused', () => {
  const dir = tempDir();
  const capture = join(dir, 'c.stcap');
  generateCapture(capture, fixtureScenarios().demo);
  const bytes = readFileSync(capture);
  const first = nextFrame(bytes, CaptureHeader.size);
  // Drop the trace frame: the header, then everything after the first frame.
  writeFileSync(capture, Buffer.concat([bytes.subarray(0, CaptureHeader.size), bytes.subarray(first)]));
  const r = runCli(['ingest', capture, '-o', join(dir, 'c.db')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`corrupt at byte offset ${CaptureHeader.size + FrameHeader.size}: the capture does not start with a trace frame`));
  assert.equal(existsSync(join(dir, 'c.db')), false);
});

test('another capture is not mixed into a trace, and the trace stays unchanged', () => {
  const dir = tempDir();
  const { path, db } = ingestScenario(fixtureScenarios().demo, dir, 'one');
  db.close();
  const other = join(dir, 'two.stcap');
  generateCapture(other, fixtureScenarios().demo);
  const before = readFileSync(path);
  const r = runCli(['ingest', other, '-o', path]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /holds another capture .*; choose another output file/);
  assert.ok(readFileSync(path).equals(before));
});

test('a trace from a newer stalk-trace is refused untouched', () => {
  const dir = tempDir();
  const { path, db, capture } = ingestScenario(fixtureScenarios().demo, dir);
  db.close();
  const w = new Database(path);
  w.pragma('user_version = 99');
  w.close();
  const before = readFileSync(path);
  const r = runCli(['ingest', capture, '-o', path]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`trace schema version 99, newer than this stalk-trace supports \\(${SCHEMA_VERSION}\\); upgrade stalk-trace`));
  assert.ok(readFileSync(path).equals(before));
  assert.equal(existsSync(`${path}-wal`), false);
});

test('an output that is not a trace database is refused untouched', () => {
  const dir = tempDir();
  const capture = join(dir, 'c.stcap');
  generateCapture(capture, fixtureScenarios().demo);
  const text = join(dir, 'notes.db');
  writeFileSync(text, 'not sqlite');
  const r = runCli(['ingest', capture, '-o', text]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /notes\.db is not a SQLite database/);
  assert.equal(readFileSync(text, 'utf8'), 'not sqlite');
  const other = join(dir, 'other.db');
  const o = new Database(other);
  o.exec('CREATE TABLE recipes (name TEXT)');
  o.close();
  const r2 = runCli(['ingest', capture, '-o', other]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /is a SQLite database, but not a stalk-trace trace/);
});

test('a call whose return is never seen is closed by its caller\'s return', () => {
  const { db } = ingestScenario({
    steps: [{ load: mainModule }, { thread: 1, calls: [{ fn: 'app!main', children: [{ fn: 'app!b' }, { fn: 'app!a', noReturn: true, children: [{ fn: 'app!b', count: 2 }] }] }] }],
  });
  // main made 2 calls, a made 2; a's frame ends when main returns.
  assert.deepEqual(statsOf(db, 'app!a'), { calls: 1, self: 2, total: 2 });
  assert.deepEqual(statsOf(db, 'app!main'), { calls: 1, self: 2, total: 4 });
  assert.equal(db.prepare('SELECT count(*) FROM open_frames').pluck().get(), 0);
  // The depths the store derived: a call and its return share one; main's return also ends a.
  const cursor = eventCursor(db, { thread: 1 });
  const seen: string[] = [];
  while (cursor.next()) seen.push(`${cursor.kind} ${cursor.depth}`);
  assert.deepEqual(seen, ['call 0', 'call 1', 'ret 1', 'call 1', 'call 2', 'ret 2', 'call 2', 'ret 2', 'ret 0']);
});

test('the committed fixture captures are what the generator writes from their descriptions', () => {
  const dir = tempDir();
  for (const [name, scenario] of Object.entries(fixtureScenarios())) {
    const fresh = join(dir, `${name}.stcap`);
    generateCapture(fresh, scenario, scenario.captureId);
    assert.ok(readFileSync(fresh).equals(readFileSync(fixturePath(`${name}.stcap`))), `${name}.stcap is stale: node dist/test/fixtures/make-fixtures.js`);
  }
});

test('a thread that ends closes its open frames, even in an empty last chunk', () => {
  const { db } = ingestScenario({
    end: null,
    steps: [{ load: mainModule }, { thread: 3, calls: [{ fn: 'app!main', noReturn: true, children: [{ fn: 'app!a', count: 2 }] }] }, { thread: 3, ends: true }],
  });
  assert.deepEqual(statsOf(db, 'app!main'), { calls: 1, self: 2, total: 2 });
  assert.equal(db.prepare('SELECT count(*) FROM open_frames').pluck().get(), 0);
  assert.equal(db.prepare('SELECT ended FROM threads WHERE id = 3').pluck().get(), 1);
});

test('a format 2 capture, whose calls carry no stack pointer, still ingests to the same events and depths', () => {
  const dir = tempDir();
  const ingest = (file: string, name: string) => {
    const path = join(dir, `${name}.db`);
    ingestCapture(fixturePath(file), path, quiet);
    return new Database(path, { readonly: true });
  };
  const old = ingest('demo-format2.stcap', 'old');
  const now = ingest('demo.stcap', 'now');
  assert.deepEqual(kindCounts(old), kindCounts(now));
  assert.deepEqual(callsByName(old), callsByName(now));
  const depths = (db: Database.Database) => {
    const out: number[] = [];
    for (const c = eventCursor(db); c.next();) out.push(c.depth);
    return out;
  };
  assert.deepEqual(depths(old), depths(now));
});

test('calls from one frame get one depth after a longjmp, a thrown exception or a handler\'s return left frames behind', () => {
  // main calls a, which calls b, which calls f, and none returns (a longjmp back into main); then
  // main calls f 3 times, a -> b again (left the same way), and f twice more. Each call main
  // makes is at depth 1, whatever was left open above it.
  const { db } = ingestScenario({
    steps: [{ load: mainModule }, {
      thread: 8, calls: [{ fn: 'app!main', children: [
        { fn: 'app!a', noReturn: true, children: [{ fn: 'app!b', noReturn: true, children: [{ fn: 'app!f', noReturn: true }] }] },
        { fn: 'app!f', count: 3 }, { fn: 'app!a', noReturn: true, children: [{ fn: 'app!b', noReturn: true }] }, { fn: 'app!f', count: 2 }] }],
    }],
  });
  const names = new Map(db.prepare('SELECT id, name FROM locations').all().map((r) => [(r as { id: number }).id, (r as { name: string }).name]));
  const depths = new Map<string, number[]>();
  for (const c = eventCursor(db); c.next();) {
    if (c.kind === 'call') depths.set(names.get(c.value)!, [...(depths.get(names.get(c.value)!) ?? []), c.depth]);
  }
  assert.deepEqual(depths.get('app!a'), [1, 1]);
  assert.deepEqual(depths.get('app!b'), [2, 2]);
  assert.deepEqual(depths.get('app!f'), [3, 1, 1, 1, 1, 1]);
  // The frames left behind were closed: f's calls from main each returned, main alone stays open.
  assert.deepEqual(statsOf(db, 'app!f'), { calls: 6, self: 0, total: 0 });
});
