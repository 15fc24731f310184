import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaptureReader } from '../host/capture/reader.js';
import { Ingester } from '../host/ingest/ingester.js';
import { openTraceForWriting } from '../host/store/database.js';
import { generateCapture } from './scenario/generate.js';
import type { Scenario } from './scenario/scenario.js';
import { CLI, runCli, tempDir } from './helpers.js';
import { app, libc, traceOf } from './analysis-fixtures.js';

const dir = tempDir();
/** Calls and returns only: seq 0 call main, 1..6 three (call a, ret a), 7 ret main. */
const simple: Scenario = { events: ['call', 'ret'], steps: [{ load: app }, { thread: 5, calls: [{ fn: 'app!main', children: [{ fn: 'app!a', count: 3 }] }] }] };

const events = (out: string) => out.split('\n').filter((l) => l.startsWith('#'));

test('replay prints events in order, indented by depth, within a --from/--to window', () => {
  const trace = traceOf(simple, dir, 'simple');
  const all = events(runCli(['replay', trace]).stdout);
  assert.equal(all.length, 8);
  assert.match(all[0], /^#0 +call {3}app\+0x10 -> app!main$/);
  assert.match(all[1], /^#1 {8}\s{2}call {3}app!main\+0x10 -> app!a$/);
  assert.match(all[7], /^#7 +ret {4}app!main\+0xff -> app\+0x15$/);
  const window = events(runCli(['replay', trace, '--thread', '5', '--from', '2', '--to', '5']).stdout);
  assert.deepEqual(window.map((l) => l.split(/\s+/)[0]), ['#2', '#3', '#4', '#5']);
});

test('blocks are disassembled from the code captured at record time', () => {
  const s: Scenario = { events: ['call', 'ret', 'block'], steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main' }] }] };
  const out = runCli(['replay', traceOf(s, dir, 'code')]).stdout;
  // 55 = push rbp; 48 89 e5 = mov rbp, rsp; c3 = ret.
  assert.match(out, /block {2}app!main \(5 bytes\)\n\s+0x401000 {2}push rbp\n\s+0x401001 {2}mov rbp, rsp\n\s+0x401004 {2}ret\n/);
  const names = runCli(['replay', traceOf(s, dir, 'code2'), '--no-disasm']).stdout;
  assert.doesNotMatch(names, /push rbp/);
});

test('a block whose code was not captured is said so, not a crash', () => {
  const s: Scenario = { events: ['call', 'ret', 'block'], captureCode: false, steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main' }] }] };
  const r = runCli(['replay', traceOf(s, dir, 'nocode')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /block {2}app!main \(5 bytes\)\n\s+\(no code was captured for this block\)/);
});

test('--func shows each activation of a function, from its call to its return', () => {
  const s: Scenario = {
    steps: [{ load: app }, { load: libc }, {
      thread: 3, calls: [{ fn: 'app!main', children: [{ fn: 'app!a', count: 4, children: [{ fn: 'libc.so.6!strlen', count: 2 }], syscalls: [{ nr: 1, args: [1, 0x400000, 5], ret: 5 }] }, { fn: 'app!b' }] }],
    }],
  };
  const out = runCli(['replay', traceOf(s, dir, 'func'), '--func', 'a']).stdout;
  const headers = out.split('\n').filter((l) => l.startsWith('=='));
  assert.equal(headers.length, 5);
  assert.match(headers[3], /^== a: activation 4, thread 3, from #\d+$/);
  assert.equal(headers[4], '== a: 4 activations');
  const first = out.split('== ')[1].split('\n').filter((l) => l.startsWith('#'));
  assert.deepEqual(first.map((l) => l.trim().split(/\s+/)[1]), ['call', 'syscall', 'call', 'ret', 'call', 'ret', 'ret']);
  assert.match(first[1], /syscall write\(1, 0x400000, 5\) = 5$/);
  assert.equal(runCli(['replay', traceOf(s, dir, 'func2'), '--func', 'app!nothing']).code, 1);
});

test('--follow prints what a recording adds while it writes, and stops when it ends', async () => {
  const capture = join(dir, 'live.stcap');
  const trace = join(dir, 'live.db');
  generateCapture(capture, { chunkRecords: 4, chunksPerFrame: 1, events: ['call', 'ret'], steps: [{ load: app }, { thread: 9, calls: [{ fn: 'app!main', children: [{ fn: 'app!b', count: 10 }] }] }] });
  const reader = CaptureReader.open(capture);
  const frames = [...reader.frames(0, reader.scan().end)].map((f) => ({ ...f, payload: Buffer.from(f.payload) }));
  reader.close();
  const db = openTraceForWriting(trace);
  const ingester = new Ingester(db, reader.info, () => {});
  const half = Math.floor(frames.length / 2);
  for (const f of frames.slice(0, half)) ingester.frame(f);
  ingester.commit();

  const child = spawn(process.execPath, [CLI, 'replay', trace, '--follow'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  /** Polls (up to 10 s) until replay has printed every event stored so far. */
  const caughtUp = async () => {
    for (const t0 = Date.now(); events(stdout).length < ingester.storedEvents && Date.now() - t0 < 10_000;) await sleep(20);
    return events(stdout).length;
  };
  const early = await caughtUp();
  // Each frame is printed while the recording goes on, before the next one exists.
  for (const f of frames.slice(half)) {
    ingester.frame(f);
    ingester.commit();
    assert.equal(await caughtUp(), ingester.storedEvents);
  }
  ingester.finish();
  db.close();
  const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout')]);
  assert.equal(code, 0);
  assert.ok(early > 0 && early < 22, `printed ${early} events before the rest was written`);
  assert.equal(events(stdout).length, 22);
});

test('disassembly names the targets of calls and jumps', () => {
  // main at 0x401000: call app!a (0x401100, 5 + 0xfb on), jmp to main+0x7 (short), ret.
  const withCalls = { ...app, functions: [{ name: 'main', offset: 0x1000, size: 0x100, code: [0xe8, 0xfb, 0x00, 0x00, 0x00, 0xeb, 0x00, 0xc3] }, ...app.functions.slice(1)] };
  const s: Scenario = { events: ['call', 'ret', 'block'], steps: [{ load: withCalls }, { thread: 1, calls: [{ fn: 'app!main' }] }] };
  const out = runCli(['replay', traceOf(s, dir, 'branches')]).stdout;
  assert.match(out, /\n\s+0x401000 {2}call app!a\n\s+0x401005 {2}jmp app!main\+0x7\n\s+0x401007 {2}ret\n/);
});
