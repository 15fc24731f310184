import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, tempDir } from './helpers.js';
import { app, blocksScenario, libc, traceOf } from './analysis-fixtures.js';
import type { Scenario } from './scenario/scenario.js';

interface Fn { name: string; calls: number; self: number; total: number; callers: { name: string; calls: number }[]; callees: { name: string; calls: number }[] }

function hotspotsJson(args: string[]): { unit: string; traceCost: number; functions: Fn[] } {
  const r = runCli(['report', 'hotspots', ...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const dir = tempDir();
const blocks = traceOf(blocksScenario(), dir, 'blocks');

test('hotspots: self and total cost in blocks, worked out by hand from the description', () => {
  const h = hotspotsJson([blocks]);
  assert.equal(h.unit, 'blocks');
  // main runs 1 block; a: 2 activations x 2 blocks; b: 6 activations x 3 blocks.
  assert.equal(h.traceCost, 1 + 4 + 18);
  const by = Object.fromEntries(h.functions.map((f) => [f.name, f]));
  assert.deepEqual([by['app!main'].calls, by['app!main'].self, by['app!main'].total], [1, 1, 23]);
  assert.deepEqual([by['app!a'].calls, by['app!a'].self, by['app!a'].total], [2, 4, 22]);
  assert.deepEqual([by['app!b'].calls, by['app!b'].self, by['app!b'].total], [6, 18, 18]);
  assert.deepEqual(by['app!b'].callers, [{ name: 'app!a', calls: 6 }]);
  assert.deepEqual(by['app!a'].callees, [{ name: 'app!b', calls: 6 }]);
  assert.deepEqual(by['app!main'].callers, [{ name: '(thread root)', calls: 1 }]);
});

test('hotspots sorts, cuts to --top and prints percentages of the trace cost', () => {
  assert.deepEqual(hotspotsJson([blocks, '--sort', 'calls']).functions.map((f) => f.name), ['app!b', 'app!a', 'app!main']);
  assert.deepEqual(hotspotsJson([blocks, '--sort', 'self', '--top', '2']).functions.map((f) => f.name), ['app!b', 'app!a']);
  const text = runCli(['report', 'hotspots', blocks]).stdout;
  assert.match(text, /^cost: basic blocks executed/);
  // b's 18 self blocks of 23.
  assert.match(text, /\n\s*18\s+78\.3%\s+18\s+78\.3%\s+6\s+app!b\n/);
});

test('hotspots --module and --thread narrow the functions', () => {
  const s: Scenario = {
    steps: [{ load: app }, { load: libc },
      { thread: 1, calls: [{ fn: 'app!main', children: [{ fn: 'libc.so.6!strlen', count: 4 }, { fn: 'app!a' }] }] },
      { thread: 2, calls: [{ fn: 'libc.so.6!write', count: 3 }] }],
  };
  const trace = traceOf(s, dir, 'mixed');
  assert.deepEqual(hotspotsJson([trace, '--module', 'libc*']).functions.map((f) => [f.name, f.calls]).sort(),
    [['libc.so.6!strlen', 4], ['libc.so.6!write', 3]]);
  assert.deepEqual(hotspotsJson([trace, '--thread', '2']).functions.map((f) => f.name), ['libc.so.6!write']);
  const unknown = runCli(['report', 'hotspots', trace, '--thread', '77']);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr.trim(), 'stalk-trace: the trace has no thread 77');
});

test('hotspots of a trace cut short still count the frames that never returned', () => {
  const s: Scenario = { ...blocksScenario(), end: null };
  s.steps[1] = { thread: 100, calls: [{ fn: 'app!main', blocks: 1, noReturn: true, children: [{ fn: 'app!a', count: 2, blocks: 2 }] }] };
  const h = hotspotsJson([traceOf(s, dir, 'cut')]);
  const main = h.functions.find((f) => f.name === 'app!main')!;
  assert.deepEqual([main.calls, main.self, main.total], [1, 1, 5]);
});

test('hotspots --diff shows what changed between two runs', () => {
  const other = traceOf(blocksScenario(5), dir, 'other');
  const r = runCli(['report', 'hotspots', blocks, '--diff', other, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = Object.fromEntries((JSON.parse(r.stdout).functions as { name: string; base: Fn; other: Fn }[]).map((d) => [d.name, d]));
  assert.deepEqual([rows['app!b'].base.calls, rows['app!b'].other.calls], [6, 10]);
  assert.deepEqual([rows['app!a'].base.total, rows['app!a'].other.total], [4 + 18, 4 + 30]);
  const top = JSON.parse(runCli(['report', 'hotspots', blocks, '--diff', other, '--json', '--top', '1', '--sort', 'calls']).stdout).functions;
  assert.deepEqual(top.map((f: { name: string }) => f.name), ['app!b'], '--top holds with --diff --json');
  const text = runCli(['report', 'hotspots', blocks, '--diff', other]).stdout.split('\n');
  // Largest change in total first: b and a both grow by 12; main by 12 too — all +12.
  assert.ok(text.some((l) => /\s6\s+10\s+\+4\s.*app!b$/.test(l)), text.join('\n'));
});

test('calltree folds repeated paths and counts them', () => {
  const r = runCli(['report', 'calltree', blocks]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').slice(2), [
    'thread 100 "main": 23 in all',
    '  1 × app!main  [23, 1]',
    '    2 × app!a  [22, 4]',
    '      6 × app!b  [18, 18]',
  ]);
  const shallow = runCli(['report', 'calltree', blocks, '--depth', '1']).stdout;
  assert.match(shallow, /1 × app!main {2}\[23, 1\]\n {4}… 1 more below --depth/);
});

test('calltree as Graphviz: one node per call path, edges labelled with counts', () => {
  const s: Scenario = {
    steps: [{ load: app }, { thread: 7, calls: [{ fn: 'app!main', children: [{ fn: 'app!a', count: 2, children: [{ fn: 'app!c' }] }, { fn: 'app!b', children: [{ fn: 'app!c', count: 5 }] }] }] }],
  };
  const dot = runCli(['report', 'calltree', traceOf(s, dir, 'dot'), '--format', 'dot']).stdout;
  assert.match(dot, /^digraph calltree \{/);
  const edges = [...dot.matchAll(/-> (n\d+) \[label="(\d+)×"\]/g)].map((m) => Number(m[2])).sort((x, y) => x - y);
  // main, main;a, main;a;c, main;b, main;b;c — c twice, under two different paths.
  assert.deepEqual(edges, [1, 1, 2, 2, 5]);
  assert.equal((dot.match(/label="app!c\\n/g) ?? []).length, 2);
});
