// arm64 for real: stalk-trace's agent and CModule record arm64 programs that qemu-user runs, with
// GumJS built for arm64 standing in for Frida's injected agent (test/arm64/harness.c), through
// `stalk-trace record` itself (test/arm64/qemu-frida.ts). Counts are those of the programs'
// source. Skipped, saying why, without the GumJS devkit (STALK_TRACE_ARM64_GUMJS),
// qemu-aarch64-static or the aarch64-linux-gnu cross compiler.
import { test, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packagePath } from '../host/base/paths.js';
import { closedPort, runCli, tempDir, type CliResult } from './helpers.js';
import { count, query } from './live-harness.js';
import { assertChecksum, assertReadConsumed, assertSimdCopy, checksumStates } from './insn-checks.js';

const CC = 'aarch64-linux-gnu-gcc';
const devkit = process.env.STALK_TRACE_ARM64_GUMJS;
const runs = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = devkit === undefined
  ? 'STALK_TRACE_ARM64_GUMJS is not set: it names a GumJS devkit built for arm64 Linux (frida-gumjs.h, libfrida-gumjs.a) to build the arm64 harness with'
  : !existsSync(join(devkit, 'libfrida-gumjs.a')) ? `STALK_TRACE_ARM64_GUMJS (${devkit}) holds no libfrida-gumjs.a`
    : !runs('qemu-aarch64-static') ? 'qemu-aarch64-static is not installed (Debian package qemu-user-static)'
      : !runs(CC) ? `${CC} is not installed (Debian package gcc-aarch64-linux-gnu)`
        : false;

const dir = tempDir();
const harness = join(dir, 'libstalk-trace-harness.so');
const program = (name: string) => join(dir, name);

function cc(args: string[]): void {
  const r = spawnSync(CC, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/** Cross-compiles test/DIR/NAME.c for arm64. */
function build(source: [string, string], flags: string[] = [], output = source[1]): void {
  cc(['-O1', ...flags, '-o', program(output), packagePath('test', source[0], `${source[1]}.c`)]);
}

/** `stalk-trace record ARGS -f PROGRAM` where `frida` is the arm64 stand-in; `cpu`: qemu's -cpu. */
function recordCli(name: string, args: string[], programArgs: string[] = [], cpu?: string): { db: string } & CliResult {
  const db = join(dir, `${name}-${Math.random().toString(36).slice(2)}.db`);
  const loader = pathToFileURL(packagePath('dist', 'test', 'arm64', 'frida-loader.js')).href;
  const r = runCli(['record', '-o', db, ...args, '-f', program(name), ...programArgs], {
    env: {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${loader}`, STALK_TRACE_ARM64_HARNESS: harness,
      ...(cpu ? { STALK_TRACE_ARM64_CPU: cpu } : {}),
    },
  });
  return { db, ...r };
}

function record(name: string, args: string[], programArgs: string[] = [], cpu?: string): string {
  const r = recordCli(name, args, programArgs, cpu);
  assert.equal(r.code, 0, `record ${name}: ${r.stderr}\n${r.stdout}`);
  return r.db;
}

/** Each count, printed (the test's diagnostics) and returned; every trace ran to exit status 0 with nothing dropped or missing. */
function counts(t: TestContext, db: string, sql: Record<string, string>): Record<string, number> {
  const out = Object.fromEntries(Object.entries({
    ...sql,
    exitedWith0: "SELECT count(*) FROM trace WHERE end_reason = 'exited' AND end_detail = 'exit status 0'",
    lostOrMissing: 'SELECT sum(lost + missing) FROM threads',
  }).map(([name, q]) => [name, count(db, q)]));
  t.diagnostic(`${basename(db)}: ${Object.entries(out).map(([name, n]) => `${name}=${n}`).join(' ')}`);
  return out;
}

const COMPLETE = { exitedWith0: 1, lostOrMissing: 0 };

let port = 0;

before(async () => {
  if (skip) return;
  cc(['-O1', '-shared', '-fPIC', '-fvisibility=hidden', '-ffunction-sections', '-fdata-sections', '-s', `-I${devkit}`,
    '-o', harness, packagePath('test', 'arm64', 'harness.c'), `-L${devkit}`, '-lfrida-gumjs', '-ldl', '-lm', '-pthread',
    '-Wl,--gc-sections', '-Wl,--exclude-libs,ALL']);
  build(['live', 'calls']);
  build(['live', 'calls'], ['-march=armv8.3-a', '-mbranch-protection=standard'], 'calls-pac');
  build(['live', 'writes']);
  build(['live', 'threads'], ['-pthread']);
  // The string functions are called, not expanded inline.
  build(['live', 'apis'], ['-fno-builtin']);
  build(['arm64', 'recurse']);
  build(['arm64', 'atomics']);
  build(['live', 'insns']);
  port = await closedPort();
});

// The local device's pipe, and Frida's messages, which carry the events from a USB or remote device.
for (const transport of ['file', 'messages']) {
  test(`arm64 (${transport}): main -> mid -> leaf 1000 times, every call and return, and the capture ingests again alike`, { skip }, (t) => {
    const db = record('calls', ['--events', 'call,ret', '--keep-capture', '--transport', transport]);
    assert.deepEqual(query(db, 'SELECT arch, pointer_size FROM trace'), [{ arch: 'arm64', pointer_size: 8 }]);
    const expected = { leafCalls: 1002, leafCallsFromMid: 1000, leafReturns: 1002, midCalls: 1000, ...COMPLETE };
    const sql = {
      leafCalls: "SELECT count(*) FROM calls WHERE callee = 'calls!leaf'",
      leafCallsFromMid: "SELECT count(*) FROM calls WHERE callee = 'calls!leaf' AND caller LIKE 'calls!mid%'",
      leafReturns: "SELECT count(*) FROM resolved_events WHERE kind = 'ret' AND location LIKE 'calls!leaf%'",
      midCalls: "SELECT calls FROM functions WHERE function = 'calls!mid'",
    };
    assert.deepEqual(counts(t, db, sql), expected);
    const again = db.replace(/\.db$/, '-again.db');
    const r = runCli(['ingest', db.replace(/\.db$/, '.stcap'), '-o', again]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(counts(t, again, sql), expected);
  });
}

test('arm64: threads the program starts are followed from their start, each with its own count', { skip }, (t) => {
  const db = record('threads', ['--events', 'call,ret']);
  // The calls of each thread, fewest first: threads.c's workers step 300 and 700 times.
  assert.deepEqual(query(db, "SELECT count(*) AS n FROM calls WHERE callee = 'threads!step' GROUP BY thread_id ORDER BY n").map((r) => r.n), [300, 700]);
  assert.deepEqual(counts(t, db, { threads: 'SELECT count(*) FROM threads' }), { threads: 3, ...COMPLETE });
});

test('arm64: ten write() calls are ten svc records with their arguments and results', { skip }, (t) => {
  const db = record('writes', []);
  const rows = query(db, "SELECT arg0, arg2, ret FROM syscall_log WHERE name = 'write' ORDER BY seq");
  assert.deepEqual(rows, [
    ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => ({ arg0: 1, arg2: n, ret: n })),
    { arg0: 77, arg2: 1, ret: -9 },
  ]);
  assert.match(runCli(['report', 'syscalls', db]).stdout, /\] write\(1, "0123", 4\) = 4\n/);
  assert.deepEqual(counts(t, db, { writes: "SELECT count(*) FROM syscall_log WHERE name = 'write'" }), { writes: 10, ...COMPLETE });
});

test('arm64: --apis records the path opened, the buffer written and the refused connect with its errno', { skip }, (t) => {
  const path = join(dir, 'known-path.txt');
  const message = 'stalk-trace was here\n';
  const db = record('apis', ['--apis'], [path, String(port)]);
  assert.equal(readFileSync(path, 'utf8'), message, 'the program ran to its end');
  const [open] = query(db, "SELECT id, ret FROM api_log WHERE name IN ('open', 'open64') ORDER BY seq");
  const fd = Number(open.ret);
  const openArgs = query(db, `SELECT value, text FROM api_arguments WHERE call_id = ${open.id} ORDER BY position`);
  assert.deepEqual([openArgs[0].text, openArgs[1].value, openArgs[2].value], [path, 0o1 | 0o100 | 0o1000, 0o644]);
  const [write] = query(db, "SELECT id, ret FROM api_log WHERE name = 'write' ORDER BY seq");
  assert.deepEqual(query(db, `SELECT text FROM api_arguments WHERE call_id = ${write.id} ORDER BY position`).map((a) => a.text), [null, message, null]);
  assert.equal(write.ret, message.length);
  assert.deepEqual(query(db, "SELECT ret FROM api_log WHERE name = 'connect'"), [{ ret: -1 }]);
  const strace = runCli(['report', 'syscalls', db]).stdout;
  assert.match(strace, new RegExp(`\\] openat\\(AT_FDCWD, "${path}", O_WRONLY\\|O_CREAT\\|O_TRUNC, 0644\\) = ${fd}\\n`));
  assert.match(strace, new RegExp(`\\] write\\(${fd}, "stalk-trace was here\\\\n", ${message.length}\\) = ${message.length}\\n`));
  assert.match(strace, new RegExp(`\\] connect\\(\\d+, \\{sa_family=AF_INET, sin_port=htons\\(${port}\\), sin_addr=inet_addr\\("127\\.0\\.0\\.1"\\)\\}, 16\\) = -1 ECONNREFUSED \\(Connection refused\\)\\n`));
  // What fgets wrote, read back when it returned.
  assert.match(runCli(['report', 'apis', db]).stdout, /~~\d+~~ libc\.so\.6!fgets\n {4}arg 0: 0x[0-9a-f]+ => "stalk-trace was here\\n" \(type=__out char\*/);
  assert.deepEqual(counts(t, db, { connects: "SELECT count(*) FROM api_log WHERE name = 'connect'" }), { connects: 1, ...COMPLETE });
});

test('arm64: --func on a function that recurses records its two outermost activations, all of them inside', { skip }, (t) => {
  const db = record('recurse', ['--events', 'call,ret', '--func', 'down']);
  // Each down(10) calls itself 10 times and leaf 11 times; other() runs only outside. Every
  // return inside: 22 from leaf, 20 nested and 2 outermost from down.
  assert.deepEqual(counts(t, db, {
    downCalls: "SELECT count(*) FROM calls WHERE callee = 'recurse!down'",
    leafCalls: "SELECT count(*) FROM calls WHERE callee = 'recurse!leaf'",
    callsFromOutsideDown: "SELECT count(*) FROM calls WHERE caller NOT LIKE 'recurse!down%'",
    returns: "SELECT count(*) FROM resolved_events WHERE kind = 'ret'",
  }), { downCalls: 20, leafCalls: 22, callsFromOutsideDown: 0, returns: 44, ...COMPLETE });
});

test('arm64: exclusive load/store pairs complete, with and without a call between, and are left unrecorded inside', { skip }, (t) => {
  const db = record('atomics', ['--events', 'call,ret']);
  // atomics.c exits 0 only when the 2000 increments all took. The call between ldaxr and stlxr is
  // in the same block as the load: never recorded. add_one's return is recorded once, the first
  // time, compiled before Stalker saw the store that ends the pair; Stalker then compiles the
  // blocks between load and store again as exclusive, and nothing is written there after.
  assert.deepEqual(counts(t, db, {
    increment: "SELECT count(*) FROM calls WHERE callee = 'atomics!increment'",
    incrementByCall: "SELECT count(*) FROM calls WHERE callee = 'atomics!increment_by_call'",
    counted: "SELECT count(*) FROM calls WHERE callee = 'atomics!counted'",
    addOneCalls: "SELECT count(*) FROM calls WHERE callee = 'atomics!add_one'",
    addOneReturns: "SELECT count(*) FROM resolved_events WHERE kind = 'ret' AND location LIKE 'atomics!add_one%'",
  }), { increment: 1000, incrementByCall: 1000, counted: 1000, addOneCalls: 0, addOneReturns: 1, ...COMPLETE });
});

test('arm64: return addresses signed with pointer authentication (retaa, qemu -cpu max) are recorded plain', { skip }, (t) => {
  const code = spawnSync('aarch64-linux-gnu-objdump', ['-d', program('calls-pac')], { encoding: 'utf8' }).stdout;
  assert.match(code, /<mid>:\n(.*\n)*?.*\tpaciasp\n(.*\n)*?.*\tretaa\n/, 'mid signs its return address and returns with retaa');
  const db = record('calls-pac', ['--events', 'call,ret'], [], 'max');
  // retaa returns to the address lr holds with its authentication code: recorded without it.
  assert.deepEqual(counts(t, db, {
    leafCallsFromMid: "SELECT count(*) FROM calls WHERE callee = 'calls-pac!leaf' AND caller LIKE 'calls-pac!mid%'",
    midReturnsToMain: "SELECT count(*) FROM resolved_events WHERE kind = 'ret' AND location LIKE 'calls-pac!mid%' AND target LIKE 'calls-pac!main+0x%'",
    leafReturnsInProgram: "SELECT count(*) FROM resolved_events WHERE kind = 'ret' AND location LIKE 'calls-pac!leaf%' AND target LIKE 'calls-pac!%'",
  }), { leafCallsFromMid: 1000, midReturnsToMain: 1000, leafReturnsInProgram: 1002, ...COMPLETE });
});

/** An instruction as objdump and replay both print it, immediates in decimal. */
const normal = (text: string) => text.trim().replace(/\s+/g, ' ').replace(/#(0x[0-9a-f]+|\d+)/g, (_, n: string) => `#${Number(n)}`);

test('arm64: blocks and their code, compiled once, replay disassembled as objdump reads the program', { skip }, (t) => {
  const db = record('calls', ['--events', 'call,ret,block']);
  assert.deepEqual(counts(t, db, { leafBlocks: "SELECT count(*) FROM resolved_events WHERE kind = 'block' AND location = 'calls!leaf'" }),
    { leafBlocks: 1002, ...COMPLETE });
  const objdump = spawnSync('aarch64-linux-gnu-objdump', ['-d', '--no-show-raw-insn', program('calls')], { encoding: 'utf8' }).stdout;
  const theirs = /<leaf>:\n((?:.+\n)+)/.exec(objdump)![1].trim().split('\n').map((l) => normal(l.split(':\t')[1]));
  const replay = runCli(['replay', db]).stdout;
  const block = /block {2}calls!leaf \(\d+ bytes\)\n((?: +0x[0-9a-f]+ {2}.+\n)+)/.exec(replay);
  assert.ok(block !== null, 'leaf\'s block is replayed');
  assert.deepEqual(block[1].trim().split('\n').map((l) => normal(l.trim().replace(/^0x[0-9a-f]+ {2}/, ''))), theirs);
  t.diagnostic(`leaf: ${theirs.join('; ')}`);
});

test('arm64: in an Android app a bare --func offset is refused, saying the app\'s library must be named', { skip }, () => {
  // Android apps run as app_process64, forked from zygote: an offset with no module would be one in it.
  copyFileSync(program('calls'), program('app_process64'));
  const r = recordCli('app_process64', ['--func', '0x754']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'stalk-trace: the agent could not start in app_process64: --func 0x754 would be an offset in app_process64, ' +
    'an Android app\'s main module, not in the app\'s code: name the app\'s library, as in --func libapp.so!0x754\n');
});

/** Where function `fn` starts in program `name`, as nm reads it: --func takes it as NAME!0xOFFSET. */
function offsetOf(name: string, fn: string): number {
  const nm = spawnSync('aarch64-linux-gnu-nm', [program(name)], { encoding: 'utf8' }).stdout;
  const line = new RegExp(`^([0-9a-f]+) T ${fn}$`, 'm').exec(nm);
  assert.ok(line !== null, `${fn} is in ${name}`);
  return parseInt(line[1], 16);
}

const func = (name: string, fn: string) => ['--func', `${name}!0x${offsetOf(name, fn).toString(16)}`];

test('arm64: --events insn on a checksum over 64 known bytes: every byte read, every state stored and in a register', { skip }, (t) => {
  const db = record('insns', ['--events', 'insn', '--insn-flags', ...func('insns', 'checksum')]);
  const { buf } = assertChecksum(db, ['x0', 'x1', 'x2']);
  assert.deepEqual(counts(t, db, {}), COMPLETE);
  // --insn-flags: the loop's `cmp x3, #0x40` leaves N while x3 < 64, Z and C at 64.
  const replay = runCli(['replay', db, '--regs']).stdout.split('\n');
  const compares = replay.filter((l) => / cmp x3, #0x40 ; /.test(l)).map((l) => l.replace(/^.* ; /, ''));
  assert.deepEqual([compares[0], compares[63], compares.length], ['reads: x3=0x1 => nzcv=0x80000000', 'reads: x3=0x40 => nzcv=0x60000000', 64]);
  // The first load of the buffer and what it read, as replay --regs prints them.
  const load = replay.findIndex((l) => / ldrb w4, \[x0, x3\] ; /.test(l));
  t.diagnostic(replay.slice(load, load + 4).join('\n'));
  assert.match(replay[load], new RegExp(`^\\[insns(!checksum)?\\+0x[0-9a-f]+\\] \\[04686338\\] 0x[0-9a-f]+: ldrb w4, \\[x0, x3\\] ; reads: x0=0x${buf.toString(16)}, x3=0x0 => x4=0x3$`));
  assert.equal(replay[load + 1], `    mr 0x${buf.toString(16)} [1] = 03`);
  // eor and mul: the first state, from the key and the first byte.
  assert.match(replay[load + 2], / eor w1, w4, w1 ; reads: x4=0x3, x1=0x811c9dc5 => x1=0x811c9dc6$/);
  assert.match(replay[load + 3], new RegExp(` mul w1, w1, w6 ; reads: x1=0x811c9dc6, x6=0x1000193 => x1=0x${checksumStates[0].toString(16)}$`));
  // Tenet's trace (one file per thread, the thread id appended): the same load and multiply.
  const tenet = join(dir, 'checksum.tenet');
  assert.equal(runCli(['export', db, '-F', 'tenet', '-o', tenet]).code, 0);
  const [file] = readdirSync(dir).filter((f) => f.startsWith('checksum.tenet.'));
  const lines = readFileSync(join(dir, file), 'utf8').split('\n');
  const at = lines.findIndex((l) => l.endsWith(`,mr=0x${buf.toString(16)}:03`));
  assert.match(lines[at], /^x4=0x3,pc=0x[0-9a-f]+,mr=/);
  assert.match(lines[at + 2], new RegExp(`^x1=0x${checksumStates[0].toString(16)},pc=0x[0-9a-f]+$`));
});

test('arm64: --events insn on a SIMD copy: the 16 bytes read, the q register they land in, and the 16 bytes written', { skip }, (t) => {
  const db = record('insns', ['--events', 'insn', ...func('insns', 'copy16')], ['simd']);
  assertSimdCopy(db, 'x0', 'x1', 'q0');
  assert.deepEqual(counts(t, db, {}), COMPLETE);
});

test('arm64: --events insn, bytes read(2) put in a buffer are written by that svc, and the loop over them reads what it wrote', { skip }, (t) => {
  const file = join(dir, 'hello.txt');
  writeFileSync(file, 'hello\n');
  const db = record('insns', ['--events', 'insn,syscall', ...func('insns', 'consume')], ['read', file]);
  assertReadConsumed(db, 'hello\n');
  assert.deepEqual(counts(t, db, {}), COMPLETE);
});

test('arm64: --events insn leaves exclusive load/store pairs out of its runs, says how many sites and counts them; the increments all take', { skip }, (t) => {
  const code = spawnSync('aarch64-linux-gnu-objdump', ['-d', '--no-show-raw-insn', program('atomics')], { encoding: 'utf8' }).stdout;
  const increment = /<increment>:\n((?:.+\n)+)/.exec(code)![1].trim().split('\n').map((l) => l.trim().split(/\s+/)[1]);
  assert.deepEqual(increment, ['ldaxr', 'add', 'stlxr', 'cbnz', 'ret']);
  const r = recordCli('atomics', ['--events', 'insn', ...func('atomics', 'increment')]);
  assert.equal(r.code, 0, r.stderr);
  const note = /note: (\d+) sites inside exclusive load\/store sequences were left unrecorded/.exec(r.stdout);
  assert.ok(note !== null, r.stdout);
  t.diagnostic(note[0]);
  // ldaxr, add and stlxr each time their block is compiled: before Stalker saw the pair, and after.
  assert.ok(Number(note[1]) >= 3, note[0]);
  const at = (i: number) => `${offsetOf('atomics', 'increment') + 4 * i} + (SELECT base FROM modules WHERE name = 'atomics')`;
  assert.deepEqual(counts(t, r.db, {
    pairInsns: `SELECT count(*) FROM insns WHERE address IN (${at(0)}, ${at(1)}, ${at(2)})`,
    rets: `SELECT count(*) FROM insns WHERE address = ${at(4)}`,
    unrecordedValues: 'SELECT sum(unrecorded_regs) + sum(unrecorded_mem) FROM threads',
  }), { pairInsns: 0, rets: 1000, unrecordedValues: 0, ...COMPLETE });
});
