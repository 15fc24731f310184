// The database a recording builds as it goes: in a process of its own, behind the target for CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ingestCapture } from '../host/ingest/ingest-capture.js';
import { LiveIngest } from '../host/ingest/live-ingest.js';
import { yieldToOthers } from '../host/ingest/background-priority.js';
import { packagePath } from '../host/base/paths.js';
import { fixturePath } from './fixtures/fixtures.js';
import { tempDir, until } from './helpers.js';

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};
/** "/autogroup-N nice K" as the group's name and nice value. */
const group = (pid: number | 'self') => /^(\/autogroup-\d+) nice (-?\d+)/.exec(read(`/proc/${pid}/autogroup`));
/** A process's main thread's nice value (field 19 of stat, counted after the command's parenthesis). */
const threadNice = (pid: number) => Number(read(`/proc/${pid}/stat`).replace(/^.*\) /s, '').split(' ')[16]);
/** Whether a process has a file open. */
const holds = (pid: number, path: string) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) === path; } catch { return false; } });
  } catch {
    return false;
  }
};
/** Gone, or a zombie nobody reaps (a container's init may not). */
const ended = (pid: number) => { const s = read(`/proc/${pid}/stat`); return s === '' || / Z /.test(s.replace(/^.*\)/s, ')')); };

const kindCounts = (path: string) => {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare('SELECT kind, sum(count) AS n FROM kind_counts GROUP BY kind ORDER BY kind').all();
  db.close();
  return rows;
};

const noGroups = existsSync('/proc/self/autogroup') ? false : 'this kernel has no autogroups (/proc/self/autogroup)';

test('the live ingest runs in a session group of its own at nice 19, stores what ingest stores, and ends cleanly', { skip: noGroups }, async () => {
  const dir = tempDir();
  const capture = join(dir, 'demo.stcap');
  copyFileSync(fixturePath('demo.stcap'), capture);
  const warnings: string[] = [];
  const live = new LiveIngest(capture, join(dir, 'live.db'), (w) => warnings.push(w));
  assert.ok(await until(() => group(live.pid)?.[2] === '19'), `its group: ${read(`/proc/${live.pid}/autogroup`)}`);
  // A process that never left init's session reads an empty file: it is in the root group, which no autogroup names.
  assert.notEqual(group(live.pid)![1], group('self')?.[1]);
  assert.equal(threadNice(live.pid), 19);
  const end = statSync(capture).size;
  live.grown(end);
  const { stored } = await live.finish(end);
  assert.equal(await live.ended, 0);
  ingestCapture(capture, join(dir, 'whole.db'), () => {});
  assert.deepEqual(warnings, []);
  assert.deepEqual(kindCounts(join(dir, 'live.db')), kindCounts(join(dir, 'whole.db')));
  assert.equal(stored, (kindCounts(join(dir, 'whole.db')) as { n: number }[]).reduce((sum, r) => sum + r.n, 0));
});

test('the live ingest process ends when the recording process is killed', async () => {
  const dir = tempDir();
  const capture = join(dir, 'demo.stcap');
  copyFileSync(fixturePath('demo.stcap'), capture);
  const module = packagePath('dist', 'host', 'ingest', 'live-ingest.js');
  const recorder = spawn(process.execPath, ['--input-type=module', '-e',
    `const { LiveIngest } = await import(${JSON.stringify(module)});
     const live = new LiveIngest(${JSON.stringify(capture)}, ${JSON.stringify(join(dir, 'live.db'))}, () => {});
     console.log(live.pid);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  recorder.stdout.on('data', (b) => { out += b; });
  assert.ok(await until(() => /^\d+\n/.test(out)), 'the recorder said its ingest process');
  const pid = Number(out);
  // Started, at the lowest priority from its first instruction: on a busy machine its start-up may take a while.
  assert.ok(await until(() => holds(pid, capture)), `process ${pid} opened the capture: ${read(`/proc/${pid}/stat`)}`);
  recorder.kill('SIGKILL');
  assert.ok(await until(() => ended(pid)), `process ${pid} lives on: ${read(`/proc/${pid}/stat`)}`);
});

test('a process lowered by the one that started it is at nice 19, it and its session group, before it does anything itself', { skip: noGroups }, async () => {
  // sleep never changes its own priority: what it has is what its parent gave it.
  const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  try {
    assert.ok(await until(() => group(child.pid!) !== null), 'the child is in a session group of its own');
    assert.deepEqual([group(child.pid!)![2], threadNice(child.pid!)], ['0', 0]);
    yieldToOthers(child.pid!);
    assert.deepEqual([group(child.pid!)![2], threadNice(child.pid!)], ['19', 19]);
    assert.notEqual(group(child.pid!)![1], group('self')?.[1]);
  } finally {
    child.kill('SIGKILL');
  }
});
