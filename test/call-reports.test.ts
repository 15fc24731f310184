// report apis (drltrace's layout) and report syscalls (strace's) on generated traces: every
// expected line is written out here from the scenario, by the formats' rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ModuleSpec, Scenario } from './scenario/scenario.js';
import { app, traceOf } from './analysis-fixtures.js';
import { runCli, tempDir } from './helpers.js';

const dir = tempDir();

// open has an alias at its address: the call is named after the one with a prototype.
const libc: ModuleSpec = {
  name: 'libc.so.6', path: '/lib/libc.so.6', base: 0x7f0000000000, size: 0x200000,
  functions: [
    { name: '__open_alias', offset: 0x1000, size: 0x80 }, { name: 'open', offset: 0x1000, size: 0x80 },
    { name: 'read', offset: 0x2000, size: 0x80 }, { name: 'getenv', offset: 0x3000, size: 0x80 },
    { name: 'wcscmp', offset: 0x4000, size: 0x80 }, { name: 'mystery', offset: 0x5000, size: 0x80 },
    { name: 'pipe', offset: 0x6000, size: 0x80 }, { name: 'connect', offset: 0x7000, size: 0x80 },
  ],
};

const apis: Scenario = {
  prototypes: [
    ['int', 'open', ['const char*', 'int', 'mode_t']],
    ['ssize_t', 'read', ['int', '__out char*', 'size_t']],
    ['char*', 'getenv', ['const char*']],
    ['int', 'wcscmp', ['const wchar_t*', 'const wchar_t*']],
    ['int', 'pipe', ['__out int*']],
    ['int', 'connect', ['int', 'const struct sockaddr*', 'socklen_t']],
  ],
  steps: [{ load: app }, { load: libc }, {
    thread: 7, calls: [{
      fn: 'app!main', children: [
        { fn: 'libc.so.6!open', api: { args: [0x500000, 0x41, 0o644], ret: 3, memory: [{ arg: 0, text: '/tmp/out.txt' }] } },
        { fn: 'libc.so.6!read', api: { args: [3, 0x600000, 100], ret: 5, memory: [{ arg: 1, text: 'hello', atReturn: true }] } },
        { fn: 'libc.so.6!getenv', api: { args: [0x500100], ret: 0x7ffff000, memory: [{ arg: 0, text: 'HOME' }, { arg: -1, text: '/root' }] } },
        { fn: 'libc.so.6!wcscmp', api: { args: [0x500200, 0xdead], ret: -1, memory: [{ arg: 0, text: 'héllo', wide: true }, { arg: 1, unreadable: true }] } },
        { fn: 'libc.so.6!mystery', api: { args: [1, 2], ret: 0 } },
        { fn: 'libc.so.6!pipe', api: { args: [0x600100], ret: 0, memory: [{ arg: 0, bytes: [5, 0, 0, 0, 6, 0, 0, 0], atReturn: true }] } },
        { fn: 'libc.so.6!open', api: { args: [0, 0, 0], ret: -1 } },
        { fn: 'libc.so.6!open', api: { args: [0x500300, 0, 0], ret: 4, memory: [{ arg: 0, text: '/very/long', truncated: true }] } },
        { fn: 'libc.so.6!getenv', noReturn: true, api: { args: [0x500100], memory: [{ arg: 0, text: 'PATH' }] } },
        { fn: 'libc.so.6!connect', api: { args: [3, 0x700000, 16], ret: -1, memory: [{ arg: 1, bytes: [2, 0, 0x01, 0xbb, 10, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0] }] } },
      ],
    }],
  }, { thread: 8, calls: [{ fn: 'libc.so.6!mystery', api: { args: [9, 9], untracked: true } }] }],
};

// Thread 7's calls are main's children 0..8: call sites at main + 0x10 + 8i, returning 5 bytes later.
const back = (i: number) => `    and return to module id:0, offset:0x${(0x1000 + 0x10 + 8 * i + 5).toString(16)}`;

test('report apis: each call in drltrace\'s layout, arguments decoded by their prototypes, then the module table', () => {
  const r = runCli(['report', 'apis', traceOf(apis, dir, 'apis')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    '~~7~~ libc.so.6!open',
    '    arg 0: "/tmp/out.txt" (type=const char*, size=0x8)',
    '    arg 1: 0x41 (type=int, size=0x4)',
    '    arg 2: 0x1a4 (type=mode_t, size=0x4)',
    back(0),
    '    ret: 0x3 (type=int)',
    '~~7~~ libc.so.6!read',
    '    arg 0: 0x3 (type=int, size=0x4)',
    '    arg 1: 0x600000 => "hello" (type=__out char*, size=0x8)',
    '    arg 2: 0x64 (type=size_t, size=0x8)',
    back(1),
    '    ret: 0x5 (type=ssize_t)',
    '~~7~~ libc.so.6!getenv',
    '    arg 0: "HOME" (type=const char*, size=0x8)',
    back(2),
    '    ret: 0x7ffff000 => "/root" (type=char*)',
    '~~7~~ libc.so.6!wcscmp',
    '    arg 0: "héllo" (type=const wchar_t*, size=0x8)',
    '    arg 1: <unreadable 0xdead> (type=const wchar_t*, size=0x8)',
    back(3),
    '    ret: -0x1 (type=int)',
    '~~7~~ libc.so.6!mystery',
    '    arg 0: 0x1',
    '    arg 1: 0x2',
    back(4),
    '    ret: 0x0',
    '~~7~~ libc.so.6!pipe',
    '    arg 0: 0x600100 => 0x5 (type=__out int*, size=0x8)',
    back(5),
    '    ret: 0x0 (type=int)',
    '~~7~~ libc.so.6!open',
    '    arg 0: <null> (type=const char*, size=0x8)',
    '    arg 1: 0x0 (type=int, size=0x4)',
    '    arg 2: 0x0 (type=mode_t, size=0x4)',
    back(6),
    '    ret: -0x1 (type=int)',
    '~~7~~ libc.so.6!open',
    '    arg 0: "/very/long"... (type=const char*, size=0x8)',
    '    arg 1: 0x0 (type=int, size=0x4)',
    '    arg 2: 0x0 (type=mode_t, size=0x4)',
    back(7),
    '    ret: 0x4 (type=int)',
    '~~7~~ libc.so.6!getenv',
    '    arg 0: "PATH" (type=const char*, size=0x8)',
    back(8),
    '    ret: (no return seen)',
    '~~7~~ libc.so.6!connect',
    '    arg 0: 0x3 (type=int, size=0x4)',
    '    arg 1: {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("10.0.0.7")} (type=const struct sockaddr*, size=0x8)',
    '    arg 2: 0x10 (type=socklen_t, size=0x4)',
    back(9),
    '    ret: -0x1 (type=int)',
    // Thread 8's outermost call comes from the first module's call site for the thread root.
    '~~8~~ libc.so.6!mystery',
    '    arg 0: 0x9',
    '    arg 1: 0x9',
    '    and return to module id:0, offset:0x15',
    '    ret: (return not watched: nested too deep in other library calls)',
    'Module Table: count 2',
    'Columns: id, base, end, name, path',
    '  0, 0x400000, 0x410000, app, /opt/app/app',
    '  1, 0x7f0000000000, 0x7f0000200000, libc.so.6, /lib/libc.so.6',
    '',
  ].join('\n'));
  const one = runCli(['report', 'apis', join(dir, 'apis.db'), '--thread', '8']).stdout;
  assert.match(one, /^~~8~~ libc\.so\.6!mystery\n/);
  assert.doesNotMatch(one, /~~7~~/);
});

test('library calls are queryable: api_log and api_arguments', () => {
  const db = join(dir, 'apis.db');
  const q = (sql: string) => JSON.parse(`[${runCli(['query', db, sql, '--json']).stdout.trim().split('\n').join(',')}]`);
  assert.deepEqual(q("SELECT function, count(*) AS n FROM api_log GROUP BY function ORDER BY function"), [
    { function: 'libc.so.6!connect', n: 1 }, { function: 'libc.so.6!getenv', n: 2 }, { function: 'libc.so.6!mystery', n: 2 }, { function: 'libc.so.6!open', n: 3 },
    { function: 'libc.so.6!pipe', n: 1 }, { function: 'libc.so.6!read', n: 1 }, { function: 'libc.so.6!wcscmp', n: 1 },
  ]);
  assert.deepEqual(q("SELECT text FROM api_arguments WHERE function = 'libc.so.6!open' AND position = 0 AND text IS NOT NULL ORDER BY seq"),
    [{ text: '/tmp/out.txt' }, { text: '/very/long' }]);
  assert.deepEqual(q("SELECT text_at_return FROM api_arguments WHERE function = 'libc.so.6!read' AND position = 1"), [{ text_at_return: 'hello' }]);
  assert.deepEqual(q('SELECT count(*) AS n FROM api_log WHERE ret IS NULL'), [{ n: 2 }]);
  assert.deepEqual(q("SELECT returns_to FROM api_log WHERE thread_id = 7 ORDER BY seq LIMIT 1"), [{ returns_to: 'app!main+0x15' }]);
});

test('report apis on a trace recorded without --apis says so', () => {
  const r = runCli(['report', 'apis', traceOf({ steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main' }] }] }, dir, 'noapis')]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'stalk-trace: the trace was recorded without --apis: it holds no library calls\n');
});

const sockaddrIn = [2, 0, 0, 9, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
const sockaddrIn6 = [10, 0, 0x1f, 0x90, 0, 0, 0, 0, ...new Array(15).fill(0), 1, 0, 0, 0, 0];
const sockaddrUn = [1, 0, ...Buffer.from('/run/x.sock'), 0];

const syscallScenario = (arch: 'x64' | 'arm64', calls: Scenario['steps'][number]): Scenario => ({ arch, steps: [{ load: app }, calls] });

test('report syscalls: strace\'s one-line form with strings, flags, socket addresses and errno names (x86_64)', () => {
  const O_WRONLY_CREAT_TRUNC_CLOEXEC = 1 | 64 | 512 | 524288;
  const s = syscallScenario('x64', {
    thread: 5, calls: [{
      fn: 'app!main', syscalls: [
        { nr: 257, args: [-100, 0x500000, O_WRONLY_CREAT_TRUNC_CLOEXEC, 0o644], ret: 3, memory: [{ arg: 1, text: '/tmp/out.txt' }] },
        { nr: 1, args: [3, 0x600000, 6], ret: 6, memory: [{ arg: 1, bytes: [...Buffer.from('hello\n')] }] },
        { nr: 41, args: [2, 1 | 524288, 0], ret: 4 },
        { nr: 42, args: [4, 0x700000, 16], ret: -111, memory: [{ arg: 1, bytes: sockaddrIn }] },
        { nr: 42, args: [4, 0x700000, 28], ret: -111, memory: [{ arg: 1, bytes: sockaddrIn6 }] },
        { nr: 42, args: [4, 0x700000, 14], ret: 0, memory: [{ arg: 1, bytes: sockaddrUn }] },
        { nr: 0, args: [3, 0x600000, 100], ret: 4, memory: [{ arg: 1, bytes: [0x61, 0, 0xff, 0x0a], atReturn: true }] },
        { nr: 0, args: [77, 0x600000, 1], ret: -9 },
        { nr: 9, args: [0, 4096, 3, 0x22, -1, 0], ret: 0x7f0000001000 },
        { nr: 2, args: [0x500000, 0x4000, 0], ret: -2, memory: [{ arg: 0, unreadable: true }] },
        { nr: 999, args: [1, 2], ret: 0 },
        { nr: 231, args: [0] },
      ],
    }],
  });
  const r = runCli(['report', 'syscalls', traceOf(s, dir, 'sys-x64')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    '[tid 5] openat(AT_FDCWD, "/tmp/out.txt", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 3',
    '[tid 5] write(3, "hello\\n", 6) = 6',
    '[tid 5] socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0) = 4',
    '[tid 5] connect(4, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 ECONNREFUSED (Connection refused)',
    '[tid 5] connect(4, {sa_family=AF_INET6, sin6_port=htons(8080), sin6_addr=inet_pton("::1")}, 28) = -1 ECONNREFUSED (Connection refused)',
    '[tid 5] connect(4, {sa_family=AF_UNIX, sun_path="/run/x.sock"}, 14) = 0',
    '[tid 5] read(3, "a\\x00\\xff\\n", 100) = 4',
    '[tid 5] read(77, 0x600000, 1) = -1 EBADF (Bad file descriptor)',
    '[tid 5] mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0x0) = 0x7f0000001000',
    '[tid 5] open(<unreadable 0x500000>, O_RDONLY|O_DIRECT) = -1 ENOENT (No such file or directory)',
    '[tid 5] syscall_999(0x1, 0x2, 0x0, 0x0, 0x0, 0x0) = 0',
    '[tid 5] exit_group(0) = ?',
    '',
  ].join('\n'));
  const strings = runCli(['query', join(dir, 'sys-x64.db'), "SELECT name, position, text FROM syscall_strings WHERE text IS NOT NULL", '--csv']).stdout;
  assert.equal(strings, 'name,position,text\nopenat,1,/tmp/out.txt\n');
});

test('report syscalls names arm64 syscalls and flags by arm64\'s own numbers', () => {
  const s = syscallScenario('arm64', {
    thread: 9, calls: [{ fn: 'app!main', syscalls: [{ nr: 56, args: [-100, 0x500000, 0x4000, 0], ret: 3, memory: [{ arg: 1, text: '/etc' }] }, { nr: 64, args: [1, 0x600000, 2], ret: 2, memory: [{ arg: 1, bytes: [0x6f, 0x6b] }] }] }],
  });
  const r = runCli(['report', 'syscalls', traceOf(s, dir, 'sys-arm64')]);
  assert.equal(r.stdout, '[tid 9] openat(AT_FDCWD, "/etc", O_RDONLY|O_DIRECTORY) = 3\n[tid 9] write(1, "ok", 2) = 2\n');
});

test('replay shows library calls and decoded syscalls between the calls', () => {
  const out = runCli(['replay', join(dir, 'apis.db'), '--thread', '7', '--to', '6']).stdout.split('\n');
  assert.match(out[3], /^#2\s+api {4}libc\.so\.6!open\("\/tmp\/out\.txt", 0x41, 0x1a4\) = 0x3$/);
  const sys = runCli(['replay', join(dir, 'sys-x64.db'), '--no-disasm']).stdout;
  assert.match(sys, /syscall write\(3, "hello\\n", 6\) = 6\n/);
});
