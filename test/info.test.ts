import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureScenarios } from './fixtures/fixtures.js';
import { expectedFor } from './scenario/expect.js';
import type { Scenario } from './scenario/scenario.js';
import { runCli, tempDir } from './helpers.js';
import { app, traceOf } from './analysis-fixtures.js';

const dir = tempDir();

test('info summarises target, end, events by kind, modules and threads', () => {
  const demo = fixtureScenarios().demo;
  const want = expectedFor(demo);
  const r = runCli(['info', traceOf(demo, dir, 'demo')]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^target {4}demo \(pid 4242\) on local$/m);
  assert.match(out, /^ended {5}exited \(exit status 0\)$/m);
  assert.match(out, new RegExp(`call ${want.calls.toLocaleString('en-US')}, ret ${want.rets.toLocaleString('en-US')}`));
  assert.match(out, /^modules {3}3 \(11 symbols\)$/m);
  assert.match(out, /libplugin\.so +0x7ffff7fc0000 +16,384 +loaded later +\/opt\/demo\/libplugin\.so/);
  assert.match(out, /libc\.so\.6 +0x7ffff7dc0000 +1,900,544 +at start/);
  const worker = expectedFor(fixtureScenarios().demo, 4243).events;
  assert.match(out, new RegExp(`^ {2}4243 +worker +${worker.toLocaleString('en-US')} +0 +0\\.0 ms +yes$`, 'm'));
});

test('info tells a crash, a cut-short trace and losses apart', () => {
  const base: Scenario = { steps: [{ load: app }, { thread: 1, lost: 12, calls: [{ fn: 'app!a' }] }] };
  const crashed = runCli(['info', traceOf({ ...base, end: { reason: 'crashed', detail: 'SIGSEGV at 0x0' } }, dir, 'crash')]).stdout;
  assert.match(crashed, /^ended {5}crashed \(SIGSEGV at 0x0\)$/m);
  assert.match(crashed, /^lost {6}12 dropped in the target$/m);
  const cut = runCli(['info', traceOf({ ...base, end: null }, dir, 'cut')]).stdout;
  assert.match(cut, /^ended {5}cut short: no end frame/m);
});

test('info --json gives the same facts to scripts', () => {
  const r = runCli(['info', traceOf({ steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!a', count: 3 }] }] }, dir, 'json'), '--json']);
  const info = JSON.parse(r.stdout);
  assert.deepEqual(info.eventsByKind, { call: 3, ret: 3 });
  assert.equal(info.events, 6);
  assert.deepEqual(info.threads.map((t: { tid: number }) => t.tid), [1]);
  assert.equal(info.modules[0].name, 'app');
});
