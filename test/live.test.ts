// End to end: real targets recorded under Stalker through the CLI. They need the `frida`
// package's native binding; where it cannot load, they are skipped, saying so.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { build, count, program, query, recordTrace, skip } from './live-harness.js';

before(() => {
  if (skip) return;
  for (const name of ['calls', 'writes', 'crash', 'fork']) build(name);
  build('threads', ['-pthread']);
  build('plugin', ['-shared', '-fPIC'], 'libplugin.so');
  build('dlopen', ['-ldl']);
});

// On this machine the agent appends events to the capture itself; USB and remote devices send them in messages.
for (const via of [[], ['--transport', 'messages']]) {
  const named = (what: string) => (via.length === 0 ? what : `${what} (${via.join(' ')})`);

  test(named('main -> mid -> leaf 1000 times: 1000 calls to leaf and 1000 returns from it'), { skip }, () => {
    const db = recordTrace('calls', [...via, '--events', 'call,ret']);
    assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'calls!leaf'"), 1002);
    assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'calls!leaf' AND caller LIKE 'calls!mid%'"), 1000);
    assert.equal(count(db, "SELECT count(*) FROM resolved_events WHERE kind = 'ret' AND location LIKE 'calls!leaf%'"), 1002);
    assert.equal(count(db, "SELECT calls FROM functions WHERE function = 'calls!mid'"), 1000);
    assert.equal(count(db, 'SELECT sum(lost + missing) FROM threads'), 0);
    assert.equal(count(db, "SELECT count(*) FROM trace WHERE end_reason = 'exited'"), 1);
  });

  test(named('--func in a library the target dlopens later is hooked when it appears'), { skip }, () => {
    const db = recordTrace('dlopen', [...via, '--events', 'call,ret', '--func', 'libplugin.so!plugin_entry'], [program('libplugin.so')]);
    assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'libplugin.so!plugin_leaf'"), 75);
    assert.equal(count(db, "SELECT loaded_while_recording FROM modules WHERE name = 'libplugin.so'"), 1);
  });

  test(named('a target that crashes keeps everything up to the crash and says it crashed'), { skip }, () => {
    const db = recordTrace('crash', [...via, '--events', 'call,ret']);
    assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'crash!tick'"), 50);
    assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'crash!fault'"), 1);
    const [trace] = query(db, 'SELECT end_reason, end_detail FROM trace');
    assert.equal(trace.end_reason, 'crashed');
    assert.match(String(trace.end_detail), /access-violation/);
  });
}

test('ten write() calls: ten write syscalls with their return values', { skip }, () => {
  const db = recordTrace('writes', []);
  const rows = query(db, "SELECT arg0, arg2, ret FROM syscall_log WHERE name = 'write' ORDER BY seq");
  assert.deepEqual(rows, [
    ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => ({ arg0: 1, arg2: n, ret: n })),
    { arg0: 77, arg2: 1, ret: -9 },
  ]);
});

test('--func mid records nothing outside mid', { skip }, () => {
  const db = recordTrace('calls', ['--events', 'call,ret', '--func', 'mid']);
  assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'calls!leaf'"), 1000);
  assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'calls!outside'"), 0);
  assert.equal(count(db, "SELECT count(*) FROM calls WHERE caller NOT LIKE 'calls!mid%'"), 0);
});

test('two threads, each with its own known count', { skip }, () => {
  const db = recordTrace('threads', ['--events', 'call,ret']);
  const perThread = query(db, "SELECT count(*) AS n FROM calls WHERE callee = 'threads!step' GROUP BY thread_id ORDER BY n")
    .map((r) => r.n);
  assert.deepEqual(perThread, [300, 700]);
});

test('a target that forks: the parent is recorded on, the unrecorded child neither hangs nor fails', { skip }, () => {
  const db = recordTrace('fork', ['--events', 'call,ret']);
  // fork.c exits 0 only when its child exited 0 after its 100 calls.
  assert.equal(count(db, "SELECT count(*) FROM trace WHERE end_reason = 'exited' AND end_detail = 'exit status 0'"), 1);
  assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'fork!in_parent'"), 50);
  assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'fork!in_child'"), 0);
});
