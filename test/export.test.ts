import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModuleSpec, Scenario } from './scenario/scenario.js';
import { expectedFor } from './scenario/expect.js';
import { runCli, tempDir } from './helpers.js';
import { app, blocksScenario, libc, traceOf } from './analysis-fixtures.js';

const dir = tempDir();

/** A drcov reader written to the documented format, not to stalk-trace's writer. */
function readDrcov(file: Buffer) {
  let at = 0;
  const line = () => {
    const end = file.indexOf(0x0a, at);
    const text = file.toString('latin1', at, end);
    at = end + 1;
    return text;
  };
  assert.equal(line(), 'DRCOV VERSION: 2');
  assert.match(line(), /^DRCOV FLAVOR: /);
  const table = /^Module Table: version 2, count (\d+)$/.exec(line());
  assert.ok(table);
  assert.equal(line(), 'Columns: id, base, end, entry, checksum, timestamp, path');
  const modules = Array.from({ length: Number(table[1]) }, () => {
    const [id, base, end, , , , path] = line().split(', ');
    return { id: Number(id), base: Number.parseInt(base, 16), end: Number.parseInt(end, 16), path };
  });
  const bbs = /^BB Table: (\d+) bbs$/.exec(line());
  assert.ok(bbs);
  const blocks = Array.from({ length: Number(bbs[1]) }, (_, i) => ({
    start: file.readUInt32LE(at + i * 8), size: file.readUInt16LE(at + i * 8 + 4), module: file.readUInt16LE(at + i * 8 + 6),
  }));
  assert.equal(at + blocks.length * 8, file.length, 'nothing after the BB table');
  return { modules, blocks };
}

test('drcov: every block, its module and offset, read back by an independent reader', () => {
  const plugin: ModuleSpec = { name: 'libplug.so', path: '/opt/libplug.so', base: 0x7f1000000000, size: 0x3000, functions: [{ name: 'p', offset: 0x800, size: 0x40 }] };
  const s: Scenario = {
    events: ['call', 'ret', 'block'],
    steps: [
      { load: app }, { load: libc },
      { thread: 1, calls: [{ fn: 'app!main', blocks: 2, children: [{ fn: 'libc.so.6!strlen', count: 3 }] }] },
      { load: plugin },
      { thread: 1, calls: [{ fn: 'libplug.so!p', blocks: 3 }] },
    ],
  };
  const out = join(dir, 'c.drcov');
  const r = runCli(['export', traceOf(s, dir, 'drcov'), '--format', 'drcov', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const { modules, blocks } = readDrcov(readFileSync(out));
  assert.deepEqual(modules.map((m) => [m.path, m.end - m.base]), [['/opt/app/app', 0x10000], ['/lib/libc.so.6', 0x200000], ['/opt/libplug.so', 0x3000]]);
  const got = blocks.map((b) => `${modules[b.module].path}:${b.start.toString(16)}:${b.size}`).sort();
  // The generator gives the b-th block of a function the offset function + 16 b; app!main's code is 5 bytes.
  assert.deepEqual(got, [
    '/lib/libc.so.6:2000:16',
    '/opt/app/app:1000:5', '/opt/app/app:1010:5',
    '/opt/libplug.so:800:16', '/opt/libplug.so:810:16', '/opt/libplug.so:820:16',
  ]);
});

test('drcov of a trace without blocks says how to get them; drcov needs a file', () => {
  const trace = traceOf({ steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!a' }] }] }, dir, 'noblocks');
  const r = runCli(['export', trace, '--format', 'drcov', '-o', join(dir, 'x.drcov')]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), 'stalk-trace: the trace has no blocks: record with --events block for coverage');
  assert.equal(existsSync(join(dir, 'x.drcov')), false, 'no empty export is left behind');
  assert.match(runCli(['export', trace, '--format', 'drcov']).stderr, /name a file with -o/);
  const bad = runCli(['export', trace, '--format', 'pdf']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Invalid values/);
});

test('chrome: metadata and slices follow the trace format field rules', () => {
  const s: Scenario = {
    steps: [{ load: app }, { load: libc },
      { thread: 11, name: 'first', calls: [{ fn: 'app!main', children: [{ fn: 'app!a', count: 3, children: [{ fn: 'libc.so.6!strlen', count: 2 }] }], syscalls: [{ nr: 1, args: [1], ret: 1 }] }] },
      { thread: 12, calls: [{ fn: 'app!b', count: 4, noReturn: false }] }],
  };
  const r = runCli(['export', traceOf(s, dir, 'chrome'), '--format', 'chrome']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.displayTimeUnit, 'ns');
  const events = doc.traceEvents as Record<string, unknown>[];
  for (const e of events) {
    for (const field of ['name', 'cat', 'ph', 'ts', 'pid', 'tid', 'args']) assert.ok(field in e, `${field} in ${JSON.stringify(e)}`);
    assert.ok(['B', 'E', 'X', 'i', 'M'].includes(e.ph as string));
    assert.equal('dur' in e, e.ph === 'X');
  }
  const names = events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [e.tid, (e.args as { name: string }).name]);
  assert.deepEqual(names, [[11, 'first'], [12, 'thread 12']]);
  for (const tid of [11, 12]) {
    const mine = events.filter((e) => e.tid === tid && e.ph !== 'M');
    const open: string[] = [];
    let last = -1;
    for (const e of mine) {
      assert.ok((e.ts as number) >= last, 'ts never goes back within a thread');
      last = e.ts as number;
      if (e.ph === 'B') open.push(e.name as string);
      if (e.ph === 'E') assert.equal(e.name, open.pop(), 'E closes the innermost B');
    }
    assert.deepEqual(open, []);
  }
  const want = expectedFor(s).callsTo;
  for (const [fn, n] of want) assert.equal(events.filter((e) => e.ph === 'B' && e.name === fn).length, n, fn);
  assert.equal(events.filter((e) => e.ph === 'i' && e.name === 'write').length, 1);
});

test('folded: one line per stack, valued in blocks when blocks were recorded', () => {
  const r = runCli(['export', traceOf(blocksScenario(), dir, 'folded'), '--format', 'folded']);
  assert.equal(r.stdout, 'app!main 1\napp!main;app!a 4\napp!main;app!a;app!b 18\n');
  // Calls only: the value is activations.
  const calls = runCli(['export', traceOf({ steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main', children: [{ fn: 'app!a', count: 2, children: [{ fn: 'app!b', count: 3 }] }] }] }] }, dir, 'folded2'), '--format', 'folded']);
  assert.equal(calls.stdout, 'app!main 1\napp!main;app!a 2\napp!main;app!a;app!b 6\n');
  // -o - is standard output too, not a file named "-".
  const dashed = runCli(['export', traceOf(blocksScenario(), dir, 'folded3'), '--format', 'folded', '-o', '-'], { cwd: dir });
  assert.equal(dashed.stdout, r.stdout);
  assert.equal(existsSync(join(dir, '-')), false);
});

test('jsonl: one named event per line, --thread narrows it', () => {
  const s: Scenario = { steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!a', syscalls: [{ nr: 2, args: [-100], ret: -2 }] }] }, { thread: 2, calls: [{ fn: 'app!b' }] }] };
  const trace = traceOf(s, dir, 'jsonl');
  const text = runCli(['export', trace, '--format', 'jsonl']).stdout;
  const lines = text.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2 + 2 + 2);
  // The names and number forms of query --json: thread_id, addresses as numbers.
  assert.deepEqual(lines[0], { thread_id: 1, seq: 0, kind: 'call', depth: 0, location: 'app+0x10', address: 0x400010, target: 'app!a', target_address: 0x401100 });
  // -100 as an unsigned 64-bit register: every digit kept, past what a double holds.
  assert.match(text.split('\n')[1], /"args":\[18446744073709551516,0,0,0,0,0\]/);
  assert.deepEqual(lines[2].syscall, { nr: 2, name: 'open', ret: -2 });
  const two = runCli(['export', trace, '--format', 'jsonl', '--thread', '2']).stdout.trim().split('\n');
  assert.equal(two.length, 2);
  assert.equal(runCli(['export', trace, '--format', 'jsonl', '--thread', '9']).code, 1);
});
