// Rows in batches (host/store/row-batches.c and .ts): every SQLite value comes back as
// better-sqlite3 would give it, in order, across batches, and a statement's failure is thrown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { addRowBatches, rowBatches } from '../host/store/row-batches.js';

function session(): Database.Database {
  const db = new Database(':memory:');
  addRowBatches(db);
  return db;
}

const all = (db: Database.Database, sql: string, columns: number) => [...rowBatches(db, sql, columns)];
const COUNT_TO = (n: number) => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n})`;

test('each type of value comes back as it was stored', () => {
  const db = session();
  db.exec('CREATE TABLE t (v)');
  const insert = db.prepare('INSERT INTO t VALUES (?)').safeIntegers(true);
  const values: unknown[] = [null, 0n, -1n, 9007199254740991n, 9007199254740992n, -9223372036854775808n, 9223372036854775807n,
    1.5, -0.25, '', 'bench!hash', 'ß→✓', 'bench!hash', Buffer.from([0, 255]), Buffer.alloc(0)];
  for (const v of values) insert.run(v);
  const rows = all(db, 'SELECT v, typeof(v) FROM t ORDER BY rowid', 2).flat();
  assert.deepEqual(rows.map((r) => r[0]), [null, 0, -1, 9007199254740991, 9007199254740992n, -9223372036854775808n, 9223372036854775807n,
    1.5, -0.25, '', 'bench!hash', 'ß→✓', 'bench!hash', Buffer.from([0, 255]), Buffer.alloc(0)]);
  assert.deepEqual(rows.map((r) => r[1]), ['null', 'integer', 'integer', 'integer', 'integer', 'integer', 'integer',
    'real', 'real', 'text', 'text', 'text', 'text', 'blob', 'blob']);
});

test('a long answer comes in several batches, every row once and in order, texts named again across batches', () => {
  const db = session();
  const batches = all(db, `${COUNT_TO(10000)} SELECT x, 'name' || (x % 3), substr(replace(hex(zeroblob(1000)), '0', 'a'), 1, x % 2000) FROM c`, 3);
  assert.ok(batches.length > 1, `${batches.length} batch`);
  const rows = batches.flat();
  assert.equal(rows.length, 10000);
  rows.forEach((r, i) => {
    assert.equal(r[0], i + 1);
    assert.equal(r[1], `name${(i + 1) % 3}`);
    assert.equal((r[2] as string).length, (i + 1) % 2000);
  });
});

test('an answer with no rows has no batch', () => {
  assert.deepEqual(all(session(), 'SELECT 1 WHERE 0', 1), []);
});

test("a statement's failure while stepping is thrown, and its handle is closed", () => {
  const db = session();
  // More failures than a session can have batches open at once: each is closed after it fails.
  for (let i = 0; i < 12; i++) {
    assert.throws(() => all(db, `${COUNT_TO(9000)} SELECT CASE WHEN x = 8000 THEN abs(-9223372036854775808) ELSE x END FROM c`, 1),
      /integer overflow/);
  }
  class Refused extends Error {}
  db.function('refuse', (x) => {
    if (x === 3) throw new Refused('refused 3');
    return x;
  });
  assert.throws(() => all(db, `${COUNT_TO(5)} SELECT refuse(x) FROM c`, 1), (e) => e instanceof Refused && e.message === 'refused 3');
  assert.deepEqual(all(db, 'SELECT 42', 1), [[[42]]]);
});

test('a batch runs one statement that reads, nothing else', () => {
  const db = session();
  db.exec('CREATE TABLE t (v); INSERT INTO t VALUES (1)');
  const open = db.prepare('SELECT stalk_batch_open(?)').pluck();
  assert.throws(() => open.get('DELETE FROM t'), /a row batch runs one statement that only reads/);
  assert.throws(() => open.get('SELECT 1; DELETE FROM t'), /a row batch runs one statement that only reads/);
  assert.throws(() => open.get('SELECT nope FROM t'), /no such column: nope/);
  assert.throws(() => db.prepare('SELECT stalk_batch_next(7, 1000, 10)').get(), /no such row batch/);
  assert.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 1);
});
