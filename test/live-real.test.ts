// Real programs, as users trace them: stripped and distribution binaries, attach and detach,
// real signals, forks under load, longjmp, C++ exceptions, signal handlers, and the Linux peers
// (strace, ltrace, uftrace) on the same program. Skipped, saying why, without Frida or a peer.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { packagePath } from '../host/base/paths.js';
import { build, count, program, query, recordTrace, scratch, skip } from './live-harness.js';
import { CLI, runCli, until } from './helpers.js';

const has = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const peerSkip = (tool: string) => skip || (!has(tool) && `${tool} is not installed (Debian package ${tool})`);

before(() => {
  if (skip) return;
  for (const name of ['calls', 'peers', 'unwind', 'handlers', 'fork', 'throws']) build(name);
  build('ticker', ['-pthread']);
  copyFileSync(program('calls'), program('calls-stripped'));
  assert.equal(spawnSync('strip', [program('calls-stripped')]).status, 0);
});

/** nm's address of a function in the unstripped build, as a module offset name: calls+0x1139. */
function offsetName(exe: string, fn: string, module = exe): string {
  const line = spawnSync('nm', [program(exe)], { encoding: 'utf8' }).stdout.split('\n').find((l) => l.endsWith(` T ${fn}`))!;
  return `${module}+0x${BigInt(`0x${line.split(' ')[0]}`).toString(16)}`;
}

test('a stripped program is recorded from its own first code, with the counts of its source', { skip }, () => {
  const db = recordTrace('calls-stripped', ['--events', 'call,ret']);
  // No symbol names leaf: it is named by its offset, as nm shows it in the unstripped build.
  assert.equal(count(db, `SELECT count(*) FROM calls WHERE callee = '${offsetName('calls', 'leaf', 'calls-stripped')}'`), 1002);
  assert.equal(count(db, `SELECT count(*) FROM calls WHERE callee = '${offsetName('calls', 'mid', 'calls-stripped')}'`), 1000);
  // A library function by name works on the stripped program too.
  const scoped = recordTrace('calls-stripped', ['--events', 'call,ret,syscall', '--func', 'libc.so.6!write']);
  assert.equal(count(scoped, "SELECT count(*) FROM syscall_log WHERE name = 'write'"), 1);
});

test('distribution programs, stripped, record and exit as they would, arguments passed through', { skip }, () => {
  const words = scratch('words.txt');
  writeFileSync(words, 'pear\napple\npear\nfig\n');
  const cases: [string, string[], string[]][] = [
    ['/bin/ls', [], ['/usr']],
    ['/usr/bin/sort', ['--func', 'libc.so.6!qsort'], ['-u', words]],
    ['/usr/bin/python3', [], ['-c', 'print(sum(range(10)))']],
  ];
  for (const [exe, options, args] of cases) {
    const db = scratch(`${exe.split('/').pop()}-${Math.random().toString(36).slice(2)}.db`);
    const r = runCli(['record', '-o', db, ...options, '-f', exe, ...args]);
    assert.equal(r.code, 0, `${exe}: ${r.stderr}`);
    assert.ok(count(db, 'SELECT sum(events) FROM threads') > 0, exe);
    assert.equal(count(db, "SELECT count(*) FROM trace WHERE end_detail = 'exit status 0'"), 1, exe);
  }
});

test('syscalls from the program\'s first code on are those strace sees, by name and count', { skip: peerSkip('strace') }, () => {
  const out = scratch('peers.strace');
  assert.equal(spawnSync('strace', ['-f', '-qq', '-o', out, program('peers')], { stdio: 'ignore' }).status, 0);
  const theirs = new Map<string, number>();
  let marked = false;
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const name = /^\d+\s+(\w+)\(/.exec(line)?.[1];
    if (name === 'getppid') marked = true; // peers.c's constructor, its first syscall
    if (name !== undefined && marked) theirs.set(name, (theirs.get(name) ?? 0) + 1);
  }
  const db = recordTrace('peers', []);
  const ours = new Map(query(db, `SELECT name, count(*) AS n FROM syscall_log
    WHERE seq >= (SELECT min(seq) FROM syscall_log WHERE name = 'getppid') GROUP BY name`).map((r) => [String(r.name), Number(r.n)]));
  // Left out on both sides, by design: the allocator's first-use set-up (brk, getrandom) already
  // ran when Frida's agent was loaded, and exit_group ends the process before it can be sent
  // (the README says so).
  for (const name of ['brk', 'getrandom', 'exit_group']) theirs.delete(name);
  assert.deepEqual(Object.fromEntries([...ours].sort()), Object.fromEntries([...theirs].sort()));
});

test('library calls the program makes are those ltrace -c counts', { skip: peerSkip('ltrace') }, () => {
  const out = scratch('peers.ltrace');
  assert.equal(spawnSync('ltrace', ['-c', '-o', out, program('peers')], { stdio: 'ignore' }).status, 0);
  const theirs = new Map<string, number>();
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\S+)$/.exec(line);
    if (m !== null) theirs.set(m[2], Number(m[1]));
  }
  assert.ok(theirs.size >= 8, `ltrace counted ${[...theirs.keys()].join(', ')}`);
  const db = recordTrace('peers', ['--apis', '--only-from-app']);
  const ours = new Map(query(db, 'SELECT name, count(*) AS n FROM api_log GROUP BY name').map((r) => [String(r.name), Number(r.n)]));
  for (const [name, n] of theirs) assert.equal(ours.get(name), n, name);
  // One more than ltrace: the program's destructors call __cxa_finalize during exit, after ltrace stops.
  assert.deepEqual([...ours.keys()].filter((name) => !theirs.has(name)), ['__cxa_finalize']);
});

test('calls per function are those uftrace records of a -pg build', { skip: peerSkip('uftrace') }, () => {
  build('calls', ['-pg'], 'calls-pg');
  const data = scratch('uftrace.data');
  assert.equal(spawnSync('uftrace', ['record', '-d', data, program('calls-pg')], { stdio: 'ignore', cwd: scratch('.') }).status, 0);
  const report = spawnSync('uftrace', ['report', '-d', data, '-f', 'call'], { encoding: 'utf8' }).stdout;
  const theirs = new Map([...report.matchAll(/^\s*(\d+)\s+(\w+)\s*$/gm)].map((m) => [m[2], Number(m[1])]));
  const db = recordTrace('calls-pg', ['--events', 'call,ret']);
  for (const fn of ['main', 'mid', 'leaf', 'outside']) {
    assert.equal(count(db, `SELECT count(*) FROM calls WHERE callee = 'calls-pg!${fn}'`), theirs.get(fn), fn);
  }
});

/** A ticker out of Node's process tree (ptrace attach to Node's own child can time out); returns its pid. */
function startTicker(threads: number, progress: string): number {
  const r = spawnSync('sh', ['-c', `setsid "${program('ticker')}" "${progress}" ${threads} >/dev/null 2>&1 </dev/null & echo $!`], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const ticks = (file: string) => (existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || 0 : 0);

for (const threads of [1, 4]) {
  test(`attach, record, detach, 20 times on a ${threads}-thread target: it lives on, still working`, { skip }, async () => {
    for (let run = 0; run < 20; run++) {
      const progress = scratch(`ticks-${threads}-${run}`);
      const pid = startTicker(threads, progress);
      try {
        assert.ok(await until(() => ticks(progress) > 0), 'the ticker started');
        const db = scratch(`attach-${threads}-${run}.db`);
        const r = runCli(['record', '-o', db, '-p', String(pid), '--duration', '0.3']);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(count(db, `SELECT count(*) FROM calls WHERE callee = 'ticker!tick'`) > 0);
        // A second after the detach it is alive, and its count goes on rising.
        await sleep(1000);
        const before = ticks(progress);
        assert.ok(alive(pid), `run ${run}: the target died after the detach`);
        assert.ok(await until(() => ticks(progress) > before), `run ${run}: the target stopped working`);
      } finally {
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
    }
  });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} finishes the trace and leaves the spawned target running`, { skip }, async () => {
    const progress = scratch(`ticks-${signal}`);
    const db = scratch(`${signal}.db`);
    const host: ChildProcess = spawn(process.execPath, [CLI, 'record', '-o', db, '-f', program('ticker'), progress], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => host.on('exit', (code) => resolve(code)));
    assert.ok(await until(() => ticks(progress) > 50), 'the target runs under the recording');
    host.kill(signal);
    assert.equal(await exited, 0);
    const [trace] = query(db, 'SELECT pid, end_reason FROM trace');
    assert.equal(trace.end_reason, 'interrupted');
    assert.ok(count(db, "SELECT count(*) FROM calls WHERE callee = 'ticker!tick'") > 0);
    const pid = Number(trace.pid);
    try {
      const before = ticks(progress);
      assert.ok(alive(pid));
      assert.ok(await until(() => ticks(progress) > before), 'the target goes on working');
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
}

test('stalk-trace killed mid-recording (SIGKILL) leaves the attached target running, still working', { skip }, async () => {
  const progress = scratch('ticks-host-killed');
  const pid = startTicker(4, progress);
  try {
    assert.ok(await until(() => ticks(progress) > 0), 'the ticker started');
    const db = scratch('host-killed.db');
    const host: ChildProcess = spawn(process.execPath, [CLI, 'record', '-o', db, '-p', String(pid)], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => host.on('exit', () => resolve()));
    // Recording is under way once events reach the capture beside the trace.
    const capture = db.replace(/\.db$/, '.stcap');
    assert.ok(await until(() => existsSync(capture) && statSync(capture).size > 1 << 16), 'events reach the capture');
    host.kill('SIGKILL');
    await exited;
    await sleep(1000);
    const before = ticks(progress);
    const written = statSync(capture).size;
    assert.ok(alive(pid), 'the target died with stalk-trace');
    assert.ok(await until(() => ticks(progress) > before + 20), 'the target stopped working');
    // Nobody reads the capture any more: the agent appends nothing to it, however long the target runs.
    assert.equal(statSync(capture).size, written);
  } finally {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
});

test('a forking target, 100 times with two CPU-burning processes beside it: never a hang', { skip }, () => {
  const burners = [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  try {
    for (let run = 0; run < 100; run++) {
      const db = recordTrace('fork', ['--events', 'call,ret']);
      // fork.c exits 0 only when its child exited 0 after its 100 calls.
      assert.equal(count(db, "SELECT count(*) FROM trace WHERE end_detail = 'exit status 0'"), 1, `run ${run}`);
      assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'fork!in_parent'"), 50, `run ${run}`);
    }
  } finally {
    for (const b of burners) b.kill('SIGKILL');
  }
});

test('signal handlers on a followed thread are recorded: 50 deliveries, 100 calls from the handler', { skip }, () => {
  // Several times: the handler is hooked as the program installs it, and raised at once after.
  for (let run = 0; run < 5; run++) {
    const db = recordTrace('handlers', ['--events', 'call,ret']);
    assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'handlers!in_handler'"), 100, `run ${run}`);
    assert.equal(count(db, "SELECT count(DISTINCT depth) FROM calls WHERE callee = 'handlers!work'"), 1);
  }
});

test('after longjmp and C++ exceptions, calls from one frame keep one depth', { skip }, () => {
  const jumps = recordTrace('unwind', ['--events', 'call,ret']);
  assert.equal(count(jumps, "SELECT count(DISTINCT depth) FROM calls WHERE callee IN ('unwind!deep1', 'unwind!after')"), 1);
  assert.equal(count(jumps, "SELECT count(*) FROM calls WHERE callee = 'unwind!after'"), 100);
  const throws = recordTrace('throws', ['--events', 'call,ret']);
  assert.equal(count(throws, "SELECT count(DISTINCT depth) FROM calls WHERE callee IN ('throws!_Z7throughi', 'throws!_Z5afteri')"), 1);
  assert.equal(count(throws, "SELECT count(*) FROM calls WHERE callee = 'throws!_Z5afteri'"), 100);
});

test('calls through the PLT are calls of the library function; the stub keeps its own name', { skip }, () => {
  const db = recordTrace('peers', ['--events', 'call,ret']);
  assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'libc.so.6!strlen' AND caller LIKE 'peers!measure%'"), 7);
  assert.ok(count(db, "SELECT count(*) FROM locations WHERE name = 'peers!strlen@plt'") === 1);
  // Hot spots of a call-only trace rank by calls: strlen, called 7 times by one function, above main.
  const top = JSON.parse(runCli(['report', 'hotspots', db, '--json', '--module', 'peers']).stdout).functions.map((f: { name: string }) => f.name);
  assert.ok(top.indexOf('peers!measure') < top.indexOf('peers!main'), top.join(', '));
});

test('the main thread is followed through exit: an exit handler\'s write is recorded', { skip }, () => {
  const db = recordTrace('peers', []);
  assert.deepEqual(query(db, "SELECT arg2 FROM syscall_log WHERE name = 'write' ORDER BY seq DESC LIMIT 1"), [{ arg2: 4 }]);
  assert.equal(count(db, "SELECT count(*) FROM calls WHERE callee = 'peers!at_exit'"), 1);
});

test('a program recorded to its end exits: 6 recordings of 10M instructions, the target gone each time', { skip }, async () => {
  // The bench's loop: at its exit the drain and the agent's timers are still busy.
  const loop = program('hash-loop');
  const cc = spawnSync('gcc', ['-O2', '-o', loop, packagePath('test', 'bench', 'hash-loop.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  for (let run = 0; run < 6; run++) {
    const db = scratch(`exits-${run}.db`);
    const done = scratch(`exits-${run}.ns`);
    const host: ChildProcess = spawn(process.execPath, [CLI, 'record', '-o', db, '--events', 'insn', '-f', loop, '1250000', done], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => host.on('exit', (code) => resolve(code)));
    assert.ok(await until(() => existsSync(done)), `run ${run}: the loop finished its work`);
    // Its work done, the target returns from main: it must be gone soon after.
    const pids = () => spawnSync('pgrep', ['-f', `^${loop} 1250000 ${done}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
    const gone = await until(() => pids().length === 0);
    for (const pid of pids()) process.kill(pid, 'SIGKILL');
    assert.ok(gone, `run ${run}: the target was still there after its work was done`);
    assert.equal(await exited, 0);
    assert.equal(count(db, "SELECT count(*) FROM trace WHERE end_detail = 'exit status 0'"), 1, `run ${run}`);
  }
});

test('a recording that ends with no events is a failure, and the trace is kept', { skip }, () => {
  // --thread names a thread that never exists: nothing is followed.
  const db = scratch('nothing.db');
  const r = runCli(['record', '-o', db, '-t', '1', '-f', program('calls')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^stalk-trace: no events were recorded from calls; the empty trace is kept in .*nothing\.db\n$/);
  assert.ok(existsSync(db));
});
