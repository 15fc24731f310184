// The in-target ring buffer (cmodule/ring.c), compiled natively by every C compiler found
// (tcc is the family Frida's CModule uses) and driven by real threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packagePath } from '../host/base/paths.js';
import { cCompilers, tempDir } from './helpers.js';

const compilers = cCompilers('the in-target ring buffer, compiled natively');

interface Outcome { written: number; received: number; lost: number; stalls: number; stallNs: number; exited: number; errors: number }

for (const cc of compilers) {
  const dir = tempDir();
  const exe = join(dir, `ring-stress-${cc}`);
  const build = spawnSync(cc, ['-pthread', '-I', packagePath('cmodule'), '-o', exe,
    packagePath('test', 'native', 'ring-stress.c'), packagePath('cmodule', 'ring.c'), packagePath('test', 'native', 'platform-native.c')], { encoding: 'utf8' });
  /**
   * `hold`: the first take waits until the producers cannot go on without one; `transport`: the
   * outbox is taken, or chunks go through a pipe, whose reader may leave early (see ring-stress.c).
   */
  const run = (threads: number, records: number, lossy: boolean, takeEveryUs: number, outboxBytes: number, hold = false,
    transport: 'outbox' | 'pipe' | 'pipe-reader-leaves' = 'outbox'): Outcome => {
    assert.equal(build.status, 0, build.stderr);
    const mode = ['outbox', 'pipe', 'pipe-reader-leaves'].indexOf(transport);
    const r = spawnSync(exe, [threads, records, lossy ? 1 : 0, takeEveryUs, outboxBytes, hold ? 1 : 0, mode].map(String), { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  test(`${cc}: every record of every thread arrives once, in order, with payloads intact`, () => {
    const o = run(4, 300_000, false, 1000, 16 << 20);
    assert.deepEqual([o.received, o.lost, o.errors, o.exited], [4 * 300_000, 0, 0, 4]);
  });

  test(`${cc}: lossless: when the agent is slow the threads wait, and say for how long`, () => {
    // 3.2 MB a thread against a 1 MiB ring and a 256 KiB outbox, not taken until every ring is full.
    const o = run(3, 200_000, false, 1000, 256 << 10, true);
    assert.deepEqual([o.received, o.lost, o.errors], [3 * 200_000, 0, 0]);
    assert.ok(o.stalls > 0 && o.stallNs > 0, JSON.stringify(o));
  });

  test(`${cc}: lossy: when the agent is slow records are dropped, and every drop is counted`, () => {
    // Not taken until every producer is done: what neither ring nor outbox could hold was dropped.
    const o = run(3, 200_000, true, 1000, 256 << 10, true);
    assert.equal(o.errors, 0);
    assert.ok(o.lost > 0, JSON.stringify(o));
    assert.equal(o.received + o.lost, o.written);
    assert.equal(o.stalls, 0);
  });

  test(`${cc}: through the pipe every record arrives once, in order, and the bytes read are the bytes written`, () => {
    const o = run(4, 300_000, false, 1000, 16 << 20, false, 'pipe');
    assert.deepEqual([o.received, o.lost, o.errors, o.exited], [4 * 300_000, 0, 0, 4]);
  });

  test(`${cc}: lossless through the pipe: when its reader is slow the threads wait, and say for how long`, () => {
    const o = run(3, 200_000, false, 1000, 256 << 10, true, 'pipe');
    assert.deepEqual([o.received, o.lost, o.errors], [3 * 200_000, 0, 0]);
    assert.ok(o.stalls > 0 && o.stallNs > 0, JSON.stringify(o));
  });

  test(`${cc}: lossy through the pipe: what was dropped while its reader was slow is counted`, () => {
    const o = run(3, 200_000, true, 1000, 256 << 10, true, 'pipe');
    assert.equal(o.errors, 0);
    assert.ok(o.lost > 0, JSON.stringify(o));
    assert.equal(o.received + o.lost, o.written);
  });

  test(`${cc}: a pipe whose reader is gone neither kills nor blocks the threads (a host that died)`, () => {
    // run() asserts the exit status 0: no SIGPIPE, and no thread left waiting for a drain.
    const o = run(4, 300_000, false, 1000, 256 << 10, false, 'pipe-reader-leaves');
    assert.equal(o.errors, 0);
  });
}
