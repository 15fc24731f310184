// Conventions users bring from uftrace, strace and frida-trace: one JSON form everywhere, counts
// that are whole numbers, names that cannot break a line, SQL as it is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ModuleSpec, Scenario } from './scenario/scenario.js';
import { runCli, tempDir } from './helpers.js';
import { app, blocksScenario, traceOf } from './analysis-fixtures.js';

const dir = tempDir();
const blocks = traceOf(blocksScenario(), dir, 'blocks');
/** Calls only: hot is called 50 times, rare once with a long subtree. */
const callsOnly = traceOf({
  steps: [{ load: app }, {
    thread: 7, name: 'say "hi"', calls: [{ fn: 'app!main', children: [{ fn: 'app!a', count: 50 }, { fn: 'app!b', children: [{ fn: 'app!c', count: 3 }] }] }],
  }],
}, dir, 'calls');
const jsonLines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l));

test('counts and ranges must make sense: --top, --depth, --from/--to', () => {
  for (const [args, sentence] of [
    [['report', 'hotspots', blocks, '--top', '-3'], '--top takes a whole number of 1 or more, not -3'],
    [['report', 'hotspots', blocks, '--top', '2.5'], '--top takes a whole number of 1 or more, not 2.5'],
    [['report', 'calltree', blocks, '--depth', '0'], '--depth takes a whole number of 1 or more, not 0'],
    [['replay', blocks, '--from', '10', '--to', '5'], '--from 10 is after --to 5: nothing lies between them'],
    [['replay', blocks, '--from', '-1'], '--from takes a sequence number, a whole number of 0 or more, not -1'],
  ] as [string[], string][]) {
    const r = runCli(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.stderr, `stalk-trace: ${sentence}\n`);
  }
  const two = JSON.parse(runCli(['report', 'hotspots', blocks, '--top', '2', '--json']).stdout);
  assert.equal(two.functions.length, 2);
});

test('hotspots ranks a call-only trace by calls, so a leaf called often comes first', () => {
  const r = runCli(['report', 'hotspots', callsOnly, '--json']);
  const h = JSON.parse(r.stdout);
  assert.equal(h.sort, 'calls');
  assert.deepEqual(h.functions.map((f: { name: string }) => f.name), ['app!a', 'app!c', 'app!main', 'app!b']);
  // Where blocks were recorded, total cost is the default.
  assert.equal(JSON.parse(runCli(['report', 'hotspots', blocks, '--json']).stdout).sort, 'total');
});

test('calltree, report syscalls, report apis and replay speak JSON too, with the names query uses', () => {
  const tree = JSON.parse(runCli(['report', 'calltree', callsOnly, '--json', '--depth', '2']).stdout);
  assert.equal(tree.unit, 'calls');
  assert.equal(tree.threads[0].thread_id, 7);
  const main = tree.threads[0].calls[0];
  assert.deepEqual([main.function, main.calls], ['app!main', 1]);
  // Children by total cost: b's subtree made 3 calls, a made none.
  assert.deepEqual(main.children.map((c: { function: string; calls: number }) => [c.function, c.calls]), [['app!b', 1], ['app!a', 50]]);
  assert.equal(main.children[0].more_below, 1, 'below --depth, what was left out is counted');

  const events = jsonLines(runCli(['replay', callsOnly, '--json', '--to', '1']).stdout);
  assert.deepEqual(events.map((e) => [e.thread_id, e.seq, e.kind, e.target]), [[7, 0, 'call', 'app!main'], [7, 1, 'call', 'app!a']]);
  const exported = jsonLines(runCli(['export', callsOnly, '-F', 'jsonl']).stdout).slice(0, 2);
  assert.deepEqual(events, exported, 'replay --json and export -F jsonl write the same objects');
  const queried = jsonLines(runCli(['query', callsOnly, 'SELECT thread_id, seq FROM events LIMIT 1', '--json']).stdout);
  assert.deepEqual(queried, [{ thread_id: 7, seq: 0 }]);

  const s: Scenario = { steps: [{ load: app }, { thread: 3, calls: [{ fn: 'app!a', syscalls: [{ nr: 1, args: [1, 0x400000, 5], ret: 5 }, { nr: 2, args: [0, 0, 0], ret: -2 }] }] }] };
  const sys = jsonLines(runCli(['report', 'syscalls', traceOf(s, dir, 'sys'), '--json']).stdout);
  assert.deepEqual(sys.map((c) => [c.thread_id, c.name, c.args[0], c.ret]), [[3, 'write', 1, 5], [3, 'open', 0, -2]]);
  assert.equal(sys[1].call, 'open(NULL, O_RDONLY) = -1 ENOENT (No such file or directory)');
});

test('replay --func shows a recursive function once per outermost activation, each event once', () => {
  const s: Scenario = {
    steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main', children: [{ fn: 'app!a', children: [{ fn: 'app!a', children: [{ fn: 'app!a' }] }] }, { fn: 'app!a' }] }] }],
  };
  const out = runCli(['replay', traceOf(s, dir, 'recursive'), '--func', 'a']).stdout.split('\n');
  const seqs = out.filter((l) => l.startsWith('#')).map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(seqs, ['#1', '#2', '#3', '#4', '#5', '#6', '#7', '#8'], 'nested activations are not printed again');
  assert.equal(out.filter((l) => l.startsWith('== a: activation')).length, 2);
  assert.ok(out.includes('== a: 2 activations (and 2 nested in them, shown inside)'));
});

test('names with newlines, tabs or quotes stay on one line in tables, trees and folded stacks', () => {
  const odd: ModuleSpec = { name: 'odd', base: 0x500000, size: 0x1000, functions: [{ name: 'two\nlines', offset: 0x100, size: 0x10 }, { name: 'tab\there', offset: 0x200, size: 0x10 }] };
  const trace = traceOf({ steps: [{ load: odd }, { thread: 2, name: 'q"uote\nd', calls: [{ fn: 'odd!two\nlines', children: [{ fn: 'odd!tab\there' }] }] }] }, dir, 'odd');
  const folded = runCli(['export', trace, '-F', 'folded']).stdout;
  assert.equal(folded, 'odd!two\\nlines 1\nodd!two\\nlines;odd!tab\\there 1\n');
  const tree = runCli(['report', 'calltree', trace]).stdout;
  assert.match(tree, /^thread 2 "q\\"uote\\nd": 2 in all$/m);
  assert.match(tree, /^ {4}1 × odd!tab\\there {2}\[0, 0\]$/m);
  const hot = runCli(['report', 'hotspots', trace]).stdout;
  assert.ok(hot.split('\n').some((l) => /\s1\s+odd!two\\nlines$/.test(l)), hot);
  const info = runCli(['info', trace]).stdout;
  assert.match(info, /^ {2}2 {4}q"uote\\nd /m);
});

test('SQL may start with a comment, and the file checks SQLite offers are allowed', () => {
  const r = runCli(['query', callsOnly, '-- how many calls\nSELECT count(*) AS n FROM calls', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '{"n":55}\n');
  assert.equal(runCli(['query', callsOnly, 'PRAGMA integrity_check', '--json']).stdout, '{"integrity_check":"ok"}\n');
  assert.equal(runCli(['query', callsOnly, 'PRAGMA quick_check', '--csv']).stdout, 'quick_check\nok\n');
  assert.equal(runCli(['query', callsOnly, 'PRAGMA user_version = 7']).code, 1);
});

test('--thread is -t everywhere, and export -F drcov -t takes one thread\'s blocks', () => {
  const two: Scenario = {
    events: ['call', 'ret', 'block'],
    steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!a', blocks: 2 }] }, { thread: 2, calls: [{ fn: 'app!b', blocks: 3 }, { fn: 'app!c' }] }],
  };
  const trace = traceOf(two, dir, 'drcov-threads');
  const bbs = (args: string[]) => {
    const out = `${dir}/t${args.join('')}.drcov`;
    const r = runCli(['export', trace, '-F', 'drcov', '-o', out, ...args]);
    assert.equal(r.code, 0, r.stderr);
    return /BB Table: (\d+) bbs/.exec(readFileSync(out, 'latin1'))?.[1];
  };
  assert.equal(bbs(['-t', '2']), '4');
  assert.equal(bbs(['-t', '1']), '2');
  assert.equal(bbs([]), '6');
  assert.equal(runCli(['export', trace, '-F', 'drcov', '-o', `${dir}/none.drcov`, '-t', '9']).stderr, 'stalk-trace: the trace has no thread 9\n');
});

test('report syscalls interleaves threads in the order the syscalls were made, as strace does', () => {
  // Thread 1, then thread 2, then thread 1 again: the generator stamps them in that order.
  const s: Scenario = {
    steps: [{ load: app },
      { thread: 1, calls: [{ fn: 'app!a', syscalls: [{ nr: 39, ret: 1 }] }] },
      { thread: 2, calls: [{ fn: 'app!b', syscalls: [{ nr: 186, ret: 2 }] }] },
      { thread: 1, calls: [{ fn: 'app!c', syscalls: [{ nr: 110, ret: 3 }] }] }],
  };
  const out = runCli(['report', 'syscalls', traceOf(s, dir, 'interleaved')]).stdout;
  assert.equal(out, '[tid 1] getpid() = 1\n[tid 2] gettid() = 2\n[tid 1] getppid() = 3\n');
});
