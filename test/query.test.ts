import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureScenarios } from './fixtures/fixtures.js';
import { expectedFor } from './scenario/expect.js';
import { runCli, tempDir } from './helpers.js';
import { traceOf } from './analysis-fixtures.js';

const demo = fixtureScenarios().demo;
const dir = tempDir();
const trace = traceOf(demo, dir, 'demo');
const json = (args: string[]) => {
  const r = runCli(['query', trace, ...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
};

test('resolved calls name caller and callee, and a callee filter finds every call to it', () => {
  const want = expectedFor(demo).callsTo;
  for (const fn of ['demo!checksum', 'libc.so.6!write', 'demo!read_token']) {
    const rows = json([`SELECT * FROM calls WHERE callee = '${fn}'`]);
    assert.equal(rows.length, want.get(fn), fn);
    for (const r of rows) assert.match(r.caller, /^[\w.]+(!\w+)?\+0x[0-9a-f]+$/);
  }
  const [{ n }] = json(['SELECT count(*) AS n FROM calls']);
  assert.equal(n, [...want.values()].reduce((a, b) => a + b, 0));
});

test('call_graph counts each caller -> callee pair as the description nests them', () => {
  const rows = json(["SELECT caller, callee, calls FROM call_graph WHERE callee = 'demo!checksum' ORDER BY calls DESC"]);
  assert.deepEqual(rows, [
    { caller: 'demo!main', callee: 'demo!checksum', calls: 200 },
    { caller: 'demo!worker_main', callee: 'demo!checksum', calls: 150 },
    { caller: 'libplugin.so!plugin_run', callee: 'demo!checksum', calls: 25 * 4 },
  ]);
});

test('syscall_log names syscalls by the trace architecture and keeps failures and unreturned ones', () => {
  const rows = json(['SELECT name, count(*) AS n, count(CASE WHEN ret < 0 THEN 1 END) AS failed, count(*) - count(ret) AS open FROM syscall_log GROUP BY name ORDER BY name']);
  // x86_64: read 0, write 1, exit_group 231 (asm/unistd_64.h).
  assert.deepEqual(rows, [
    { name: 'exit_group', n: 1, failed: 0, open: 1 },
    { name: 'read', n: 3, failed: 0, open: 0 },
    { name: 'write', n: 11, failed: 1, open: 0 },
  ]);
});

test('block_symbols and events agree with the recorded blocks', () => {
  const want = expectedFor(demo);
  const [{ executions }] = json(['SELECT sum(executions) AS executions FROM block_symbols']);
  assert.equal(executions, want.blocks);
  const kinds = Object.fromEntries(json(['SELECT kind, count(*) AS n FROM events GROUP BY kind']).map((r) => [r.kind, r.n]));
  assert.equal(kinds.call, want.calls);
  assert.equal(kinds.ret, want.rets);
  const [{ n }] = json(['SELECT count(*) AS n FROM events WHERE thread = 4243']);
  assert.equal(n, json(['SELECT events AS n FROM threads WHERE id = 4243'])[0].n);
});

test('CSV quotes what needs quoting; table output aligns columns', () => {
  const csv = runCli(['query', trace, "SELECT 'a,b' AS x, 'say \"hi\"' AS y, NULL AS z", '--csv']);
  assert.equal(csv.stdout, 'x,y,z\n"a,b","say ""hi""",\n');
  const table = runCli(['query', trace, "SELECT name, events FROM threads ORDER BY id"]);
  const [demo, worker] = [4242, 4243].map((tid) => String(expectedFor(fixtureScenarios().demo, tid).events));
  const width = Math.max(6, demo.length, worker.length);
  assert.equal(table.stdout, `name    ${'events'.padStart(width)}\n------  ${'-'.repeat(width)}\ndemo    ${demo.padStart(width)}\nworker  ${worker.padStart(width)}\n`);
});

test('64-bit values keep every bit', () => {
  const r = runCli(['query', trace, 'SELECT 9223372036854775807 AS big, -1 AS neg', '--json']);
  assert.equal(r.stdout, '{"big":9223372036854775807,"neg":-1}\n');
});

test('a million-row answer streams instead of piling up in memory', () => {
  // 48 MiB of heap cannot hold two million row objects at once.
  const sql = 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) SELECT i, i * 2 AS twice FROM n';
  const r = runCli(['query', trace, sql, '--json'], { env: { NODE_OPTIONS: '--max-old-space-size=48' } });
  assert.equal(r.code, 0, r.stderr.slice(0, 500));
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2_000_000);
  assert.equal(lines[lines.length - 1], '{"i":2000000,"twice":4000000}');
});

test('statements that write or change the connection are refused and the file stays byte-identical', () => {
  const before = readFileSync(trace);
  for (const sql of [
    'INSERT INTO threads (id) VALUES (1)', 'DELETE FROM event_chunks', 'UPDATE trace SET target = 1',
    `ATTACH '${join(dir, 'other.db')}' AS other`, 'PRAGMA writable_schema = ON', 'PRAGMA journal_mode = WAL',
    `VACUUM INTO '${join(dir, 'copy.db')}'`, 'CREATE TEMP TABLE t (x)', 'DROP TABLE trace', 'DELETE FROM trace RETURNING *',
  ]) {
    const r = runCli(['query', trace, sql]);
    assert.equal(r.code, 1, sql);
    assert.match(r.stderr, /^stalk-trace: query opens traces read-only/, sql);
  }
  assert.ok(readFileSync(trace).equals(before));
  assert.equal(existsSync(join(dir, 'other.db')), false);
  assert.equal(existsSync(join(dir, 'copy.db')), false);
  assert.equal(existsSync(`${trace}-wal`), false);
});

test('malformed SQL reports SQLite\'s message and exits 1', () => {
  const r = runCli(['query', trace, 'SELEC * FROM calls']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), 'stalk-trace: SQL error: near "SELEC": syntax error');
  const missing = runCli(['query', trace, 'SELECT * FROM no_such_table']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim(), 'stalk-trace: SQL error: no such table: no_such_table');
  const two = runCli(['query', trace, 'SELECT 1; SELECT 2']);
  assert.equal(two.code, 1);
  assert.match(two.stderr, /more than one statement/);
});

test('SQL from a file and the named queries', () => {
  const file = join(dir, 'q.sql');
  writeFileSync(file, '-- how many threads\nSELECT count(*) AS n FROM threads;\n');
  assert.equal(runCli(['query', trace, '--file', file, '--csv']).stdout, 'n\n2\n');
  const list = runCli(['query', '--list']).stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]);
  assert.ok(list.length >= 3);
  for (const name of list) {
    const r = runCli(['query', trace, '--named', name, '--csv']);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  }
  const threads = runCli(['query', trace, '--named', 'threads', '--csv']).stdout.split('\n');
  assert.equal(threads[0], 'tid,name,events,lost,stalled_ms,ended');
  assert.equal(runCli(['query', trace, '--named', 'nope']).code, 1);
  assert.equal(runCli(['query', trace, 'SELECT 1', '--named', 'threads']).code, 1);
});

test('a missing trace or a newer one is a clear error', () => {
  const r = runCli(['query', join(dir, 'absent.db'), 'SELECT 1']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `stalk-trace: trace database ${join(dir, 'absent.db')} does not exist`);
});
