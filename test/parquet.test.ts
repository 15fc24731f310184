// export -F parquet, read back by DuckDB: every table holds what the trace's views show, typed
// for an engine, and the output directory is all or nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import Database from 'better-sqlite3';
import { openAnalysis } from '../host/analysis/analysis-db.js';
import { IntegerColumn, writeParquet } from '../host/analysis/export/parquet-file.js';
import type { ModuleSpec, Scenario } from './scenario/scenario.js';
import { expectedFor } from './scenario/expect.js';
import { CLI, runCli, tempDir } from './helpers.js';
import { app, traceOf } from './analysis-fixtures.js';
import { x64Insns } from './insn-scenarios.js';

const dir = tempDir();
const duck = await (await DuckDBInstance.create(':memory:')).connect();

const libc: ModuleSpec = {
  name: 'libc.so.6', path: '/lib/libc.so.6', base: 0x7f0000000000, size: 0x200000,
  functions: [{ name: 'open', offset: 0x1000, size: 0x80 }, { name: 'strlen', offset: 0x2000, size: 0x40 }],
};

/** Two threads: calls, blocks, syscalls (one that never returns), a library call with a string. */
const scenario: Scenario = {
  events: ['call', 'ret', 'block', 'syscall'],
  prototypes: [['int', 'open', ['const char*', 'int', 'mode_t']]],
  steps: [{ load: app }, { load: libc }, {
    thread: 11, name: 'main', calls: [{
      fn: 'app!main', blocks: 2,
      children: [
        { fn: 'app!a', count: 3, children: [{ fn: 'libc.so.6!strlen', count: 2 }] },
        { fn: 'libc.so.6!open', api: { args: [0x500000, 0, 0], ret: 3, memory: [{ arg: 0, text: '/etc/hosts' }] } },
      ],
      syscalls: [{ nr: 1, args: [1, 0x400000, 5], ret: 5, memory: [{ arg: 1, text: 'hello' }] }, { nr: 257, args: [-100, 0x500000, 0], ret: -2 }],
    }],
  }, { thread: 12, calls: [{ fn: 'app!b', count: 4, children: [{ fn: 'app!c' }] }, { fn: 'app!c', syscalls: [{ nr: 60, args: [0] }] }] }],
};
const trace = traceOf(scenario, dir, 'mixed');
const out = join(dir, 'mixed.parquet.d');
const exported = runCli(['export', trace, '-F', 'parquet', '-o', out]);

/** A query's rows from DuckDB, values as the JavaScript types its client gives (bigint, string, boolean, Uint8Array). */
async function duckRows(sql: string): Promise<unknown[][]> {
  return (await duck.runAndReadAll(sql)).getRowsJS();
}

const file = (table: string) => `'${join(out, `${table}.parquet`)}'`;

/** One form for values from either engine: integers by their 64 bits, bytes as hex, flags as 0/1. */
function same(rows: unknown[][]): string[][] {
  return rows.map((row) => row.map((v) => {
    if (typeof v === 'bigint') return BigInt.asUintN(64, v).toString();
    if (typeof v === 'number') return BigInt.asUintN(64, BigInt(v)).toString();
    if (typeof v === 'boolean') return v ? '1' : '0';
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    return v === null ? 'NULL' : String(v);
  }));
}

function sqliteRows(sql: string): unknown[][] {
  const session = openAnalysis(trace);
  try {
    return session.db.prepare(sql).raw(true).safeIntegers(true).all() as unknown[][];
  } finally {
    session.close();
  }
}

test('export -F parquet writes one file per table and says what each holds', () => {
  assert.equal(exported.code, 0, exported.stderr);
  assert.deepEqual(readdirSync(out).sort(), [
    'api_arguments', 'api_calls', 'blocks', 'call_graph', 'calls', 'events', 'functions', 'modules', 'syscall_strings', 'syscalls', 'threads', 'trace',
  ].map((t) => `${t}.parquet`), 'no instruction tables: none were recorded');
  const e = expectedFor(scenario);
  assert.match(exported.stdout, new RegExp(`events\\.parquet +${e.events} `));
  assert.match(exported.stdout, new RegExp(`calls\\.parquet +${e.calls} `));
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('partial')), [], 'nothing is left aside');
});

test('columns are typed for an engine: 64-bit integers, unsigned addresses, text, booleans, bytes', async () => {
  const types = async (table: string) => Object.fromEntries((await duckRows(`DESCRIBE SELECT * FROM ${file(table)}`)).map((r) => [r[0], r[1]]));
  assert.deepEqual(await types('events'), {
    thread_id: 'BIGINT', seq: 'BIGINT', kind: 'VARCHAR', depth: 'BIGINT', location: 'VARCHAR', address: 'UBIGINT', target: 'VARCHAR',
    target_address: 'UBIGINT', size: 'BIGINT', syscall_id: 'BIGINT', stall_ns: 'BIGINT', api_call_id: 'BIGINT',
  });
  assert.deepEqual(await types('calls'), {
    thread_id: 'BIGINT', seq: 'BIGINT', depth: 'BIGINT', caller: 'VARCHAR', callee: 'VARCHAR', call_site: 'UBIGINT', callee_address: 'UBIGINT',
  });
  const syscalls = await types('syscalls');
  assert.deepEqual([syscalls.arg0, syscalls.ret, syscalls.time_ns, syscalls.name], ['UBIGINT', 'BIGINT', 'BIGINT', 'VARCHAR']);
  const blocks = await types('blocks');
  assert.deepEqual([blocks.start, blocks.code], ['UBIGINT', 'BLOB']);
  assert.equal((await types('syscall_strings')).at_return, 'BOOLEAN');
  // AT_FDCWD (-100) is a raw register value: unsigned, every bit kept.
  assert.deepEqual(await duckRows(`SELECT arg0, ret FROM ${file('syscalls')} WHERE name = 'openat'`), [[2n ** 64n - 100n, -2n]]);
});

test('each table holds exactly the rows of the view it mirrors', async () => {
  const pairs: [string, string, string][] = [
    ['events', 'SELECT * FROM resolved_events ORDER BY thread_id, seq', 'ORDER BY thread_id, seq'],
    ['calls', 'SELECT * FROM calls ORDER BY thread_id, seq', 'ORDER BY thread_id, seq'],
    ['functions', 'SELECT * FROM functions ORDER BY function', 'ORDER BY function'],
    ['call_graph', 'SELECT * FROM call_graph ORDER BY thread_id, caller, callee', 'ORDER BY thread_id, caller, callee'],
    ['blocks', 'SELECT * FROM block_symbols ORDER BY id', 'ORDER BY id'],
    ['syscall_strings', 'SELECT * FROM syscall_strings ORDER BY thread_id, seq, position', 'ORDER BY thread_id, seq, position'],
    ['api_calls', 'SELECT * FROM api_log ORDER BY id', 'ORDER BY id'],
    ['api_arguments', 'SELECT * FROM api_arguments ORDER BY call_id, position', 'ORDER BY call_id, position'],
  ];
  for (const [table, sqlite, order] of pairs) {
    const want = same(sqliteRows(sqlite));
    assert.ok(want.length > 0, `${table}: the scenario gives it rows`);
    assert.deepEqual(same(await duckRows(`SELECT * FROM ${file(table)} ${order}`)), want, table);
  }
  const logColumns = 'thread_id, seq, name, nr, arg0, arg1, arg2, arg3, arg4, arg5, ret, location';
  assert.deepEqual(same(await duckRows(`SELECT ${logColumns} FROM ${file('syscalls')} ORDER BY thread_id, seq`)),
    same(sqliteRows(`SELECT ${logColumns} FROM syscall_log ORDER BY thread_id, seq`)));
});

test('DuckDB answers the questions SQLite does: events per kind, calls per function, syscalls by name, joins', async () => {
  const e = expectedFor(scenario);
  const kinds = new Map((await duckRows(`SELECT kind, count(*) FROM ${file('events')} GROUP BY kind`)).map(([k, n]) => [k, Number(n)]));
  assert.deepEqual(kinds, new Map(Object.entries({
    call: e.calls, ret: e.rets, block: e.blocks, compile: e.compiles, syscall: e.syscalls, sysret: e.sysrets, apicall: e.apicalls, apiret: e.apirets,
  })));
  const callsTo = new Map((await duckRows(`SELECT callee, count(*) FROM ${file('calls')} GROUP BY callee`)).map(([f, n]) => [f, Number(n)]));
  assert.deepEqual(callsTo, e.callsTo);
  // Calls per function from the calls table agree with the functions table's own count.
  assert.deepEqual(await duckRows(`SELECT f.function FROM ${file('functions')} f
    JOIN (SELECT callee, count(*) AS n FROM ${file('calls')} GROUP BY callee) c ON c.callee = f.function WHERE c.n <> f.calls`), []);
  assert.deepEqual(await duckRows(`SELECT name, count(*), count(ret) FROM ${file('syscalls')} GROUP BY name ORDER BY name`),
    [['exit', 1n, 0n], ['openat', 1n, 1n], ['write', 1n, 1n]]);
  // Each syscall event finds its syscall by id (the generator puts a function's syscall instruction at +0x20).
  assert.deepEqual(await duckRows(`SELECT s.name, e.kind, e.location FROM ${file('events')} e JOIN ${file('syscalls')} s ON s.id = e.syscall_id
    ORDER BY s.name, e.kind`), [['exit', 'syscall', 'app!c+0x20'], ['openat', 'syscall', 'app!main+0x20'], ['openat', 'sysret', 'app!main+0x20'],
    ['write', 'syscall', 'app!main+0x20'], ['write', 'sysret', 'app!main+0x20']]);
  assert.deepEqual(await duckRows(`SELECT a.function, g.text FROM ${file('api_calls')} a JOIN ${file('api_arguments')} g ON g.call_id = a.id
    WHERE g.position = 0`), [['libc.so.6!open', '/etc/hosts']]);
  assert.deepEqual(await duckRows(`SELECT name, text FROM ${file('syscall_strings')}`), [['write', 'hello']]);
  assert.deepEqual(await duckRows(`SELECT id, name, events FROM ${file('threads')} ORDER BY id`),
    [[11n, 'main', BigInt(expectedFor(scenario, 11).events)], [12n, null, BigInt(expectedFor(scenario, 12).events)]]);
});

test('integers keep every bit, negative and past 2^32, whether put as numbers or as bigints', async () => {
  const path = join(dir, 'integers.parquet');
  const numbers = [0, -1, -(2 ** 40) - 3, 2 ** 53 - 1, -(2 ** 53) + 1, 4294967296];
  const signed = new IntegerColumn('signed');
  const unsigned = new IntegerColumn('unsigned', { unsigned: true });
  let done = false;
  const rows = await writeParquet(path, [signed, unsigned], () => {
    if (done) return 0;
    done = true;
    numbers.forEach((n, row) => signed.putNumber(row, n));
    [0n, -1n, 2n ** 63n, 2n ** 64n - 2n, 1n, 5n].forEach((n, row) => unsigned.put(row, n));
    return numbers.length;
  }, new AbortController().signal);
  assert.equal(rows, numbers.length);
  assert.deepEqual(await duckRows(`SELECT signed, unsigned FROM '${path}'`),
    numbers.map((n, row) => [BigInt(n), [0n, 2n ** 64n - 1n, 2n ** 63n, 2n ** 64n - 2n, 1n, 5n][row]]));
});

test('instructions, when recorded, are tables too: insns, reg_writes (integers and vector bytes), mem_accesses', async () => {
  const insnOut = join(dir, 'insn.d');
  const r = runCli(['export', traceOf(x64Insns, dir, 'insn'), '-F', 'parquet', '-o', insnOut]);
  assert.equal(r.code, 0, r.stderr);
  const read = (table: string, rest: string) => duckRows(`SELECT ${rest.replace('FROM', `FROM '${join(insnOut, `${table}.parquet`)}'`)}`);
  // Thread 7: 4 + 4 + 1 + 2 instructions, thread 8: 4.
  assert.deepEqual(await read('insns', 'thread_id, count(*) FROM GROUP BY thread_id ORDER BY thread_id'), [[7n, 11n], [8n, 4n]]);
  assert.deepEqual(await read('insns', 'seq, address, location FROM WHERE seq IN (0, 9)'), [[0n, 0x401000n, 'app!main'], [9n, 0x401022n, 'app!main+0x22']]);
  assert.deepEqual(await read('reg_writes', 'seq, value FROM WHERE reg = \'rcx\' ORDER BY seq'), [[2n, 0x0807060504030201n], [6n, 0x0102030405060708n], [13n, 0n]]);
  const xmm0 = await read('reg_writes', 'value, bytes FROM WHERE reg = \'xmm0\' AND seq = 3');
  assert.deepEqual(xmm0.map(([v, b]) => [v, Buffer.from(b as Uint8Array).toString('hex')]), [[null, '000102030405060708090a0b0c0d0e0f']]);
  // Up to 8 bytes an integer, wider ones and what the kernel wrote their bytes.
  assert.deepEqual(await read('mem_accesses', 'seq, access, address, size, value, bytes, syscall_id FROM WHERE seq IN (2, 8) ORDER BY seq'),
    [[2n, 'r', 0x7000n, 8n, 0x0807060504030201n, null, null], [8n, 'w', 0x7200n, 4n, null, Buffer.from([0xde, 0xad, 0xbe, 0xef]), 1n]]);
  const wide = await read('mem_accesses', 'value, bytes FROM WHERE seq = 3');
  assert.deepEqual(wide.map(([v, b]) => [v, Buffer.from(b as Uint8Array).toString('hex')]), [[null, '000102030405060708090a0b0c0d0e0f']]);
  assert.ok(existsSync(join(insnOut, 'insn_syncs.parquet')));
});

test('an existing -o is refused and left as it was; parquet needs -o and takes no -t', () => {
  const taken = join(dir, 'taken');
  mkdirSync(taken);
  const r = runCli(['export', trace, '-F', 'parquet', '-o', taken]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `stalk-trace: cannot write ${taken}: it already exists; name a new directory\n`);
  assert.deepEqual(readdirSync(taken), []);
  const kept = join(dir, 'kept.txt');
  writeFileSync(kept, 'keep\n');
  assert.equal(runCli(['export', trace, '-F', 'parquet', '-o', kept]).stderr, `stalk-trace: cannot write ${kept}: it already exists; name a new directory\n`);
  assert.equal(readFileSync(kept, 'utf8'), 'keep\n');
  assert.equal(runCli(['export', trace, '-F', 'parquet']).stderr, 'stalk-trace: parquet writes a directory of files, one per table: name it with -o DIR\n');
  assert.equal(runCli(['export', trace, '-F', 'parquet', '-o', join(dir, 'one'), '-t', '11']).stderr,
    'stalk-trace: parquet writes the whole trace: select a thread by thread_id where the files are read\n');
  assert.equal(runCli(['export', trace, '-F', 'parquet', '-o', join(dir, 'no', 'such')]).stderr,
    `stalk-trace: cannot write ${join(dir, 'no', 'such')}: the directory ${join(dir, 'no')} does not exist\n`);
  assert.equal(existsSync(join(dir, 'one')), false);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('partial')), []);
});

test('an export that fails half way leaves nothing behind', () => {
  const failing = join(dir, 'limited');
  // A file size limit of 1 KiB: the events file reaches it.
  const r = spawnSync('sh', ['-c', `ulimit -f 2; exec "${process.execPath}" "${CLI}" export "${trace}" -F parquet -o "${failing}"`], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, `stalk-trace: cannot write ${failing}: the file size limit was reached\n`);
  assert.equal(existsSync(failing), false);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('partial')), []);
});

test('a value SQLite kept in the wrong kind of column stops the export with a sentence, and nothing is left', () => {
  const damaged = join(dir, 'damaged.db');
  copyFileSync(trace, damaged);
  const db = new Database(damaged);
  db.prepare("UPDATE syscalls SET arg2 = 'oops' WHERE nr = 1").run();
  db.close();
  const target = join(dir, 'damaged.d');
  const r = runCli(['export', damaged, '-F', 'parquet', '-o', target]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'stalk-trace: the trace database is damaged: syscalls.arg2 holds the text "oops" where an integer belongs\n');
  assert.equal(existsSync(target), false);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('partial')), []);
});

test('Ctrl+C during an export leaves nothing behind', async () => {
  const longDir = tempDir();
  // 2 (1 + 5 n) events: long enough that the export is still running when the signal comes.
  const long = traceOf({ chunkRecords: 16384, steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main', children: [{ fn: 'app!a', count: 100_000, children: [{ fn: 'app!b', count: 4 }] }] }] }] }, longDir, 'long');
  const target = join(longDir, 'out');
  const child = spawn(process.execPath, [CLI, 'export', long, '-F', 'parquet', '-o', target], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const aside = join(longDir, `.out.${child.pid}.partial`);
  // The directory made aside means the export has begun (and listens for signals).
  const began = await new Promise<boolean>((resolve) => {
    const watcher = watch(longDir, () => existsSync(aside) && done(true));
    const done = (seen: boolean) => {
      watcher.close();
      resolve(seen);
    };
    void exited.then(() => done(false));
  });
  assert.ok(began, `the export never began: ${stderr}`);
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  assert.equal(stderr, `stalk-trace: interrupted: ${target} was not created\n`);
  assert.deepEqual(readdirSync(longDir).sort(), ['long.db', 'long.stcap']);
});
