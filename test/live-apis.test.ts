// record --apis end to end: library calls and syscalls of a real target, with the exact
// argument values and results the program used. Skipped, saying why, where Frida does not load.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { closedPort, runCli } from './helpers.js';
import { build, count, query, recordTrace, scratch, skip } from './live-harness.js';

const MESSAGE = 'stalk-trace was here\n';
const O_WRONLY_CREAT_TRUNC = 0o1 | 0o100 | 0o1000;
const path = scratch('known-path.txt');
let port = 0;

before(async () => {
  if (skip) return;
  // The string functions are called, not expanded inline: strcmp is a GNU indirect function.
  build('apis', ['-fno-builtin']);
  port = await closedPort();
});

/** The app's calls, by function, in order. */
const calls = (db: string, fn: string) => query(db, `SELECT id, name, ret, returns_to FROM api_log WHERE name IN (${fn}) ORDER BY thread_id, seq`);
const args = (db: string, id: unknown) => query(db, `SELECT position, value, text, text_at_return FROM api_arguments WHERE call_id = ${id} ORDER BY position`);

test('--apis: open, write and connect are recorded with the arguments and results the program used', { skip }, () => {
  const db = recordTrace('apis', ['--apis'], [path, String(port)]);
  assert.equal(readFileSync(path, 'utf8'), MESSAGE, 'the target ran to completion');

  const [open] = calls(db, "'open', 'open64'");
  const openArgs = args(db, open.id);
  assert.deepEqual(openArgs.map((a) => [a.value, a.text]), [[openArgs[0].value, path], [O_WRONLY_CREAT_TRUNC, null], [0o644, null]]);
  const fd = Number(open.ret);
  assert.ok(fd >= 0, `open returned ${fd}`);

  const [write] = calls(db, "'write'");
  assert.deepEqual(args(db, write.id).map((a) => [a.value, a.text]), [[fd, null], [args(db, write.id)[1].value, MESSAGE], [MESSAGE.length, null]]);
  assert.equal(write.ret, MESSAGE.length);

  const [connect] = calls(db, "'connect'");
  assert.equal(connect.ret, -1, 'connect failed, as an int');
  assert.match(runCli(['report', 'apis', db]).stdout,
    new RegExp(`libc\\.so\\.6!connect\\n.*\\n {4}arg 1: \\{sa_family=AF_INET, sin_port=htons\\(${port}\\), sin_addr=inet_addr\\("127\\.0\\.0\\.1"\\)\\} \\(type=const struct sockaddr\\*`));

  // The same, seen as syscalls, in strace's form with decoded arguments and errno names.
  const strace = runCli(['report', 'syscalls', db]).stdout;
  assert.match(strace, new RegExp(`\\] openat\\(AT_FDCWD, "${path}", O_WRONLY\\|O_CREAT\\|O_TRUNC, 0644\\) = ${fd}\\n`));
  assert.match(strace, new RegExp(`\\] write\\(${fd}, "stalk-trace was here\\\\n", ${MESSAGE.length}\\) = ${MESSAGE.length}\\n`));
  assert.match(strace, new RegExp(`\\] connect\\(\\d+, \\{sa_family=AF_INET, sin_port=htons\\(${port}\\), sin_addr=inet_addr\\("127\\.0\\.0\\.1"\\)\\}, 16\\) = -1 ECONNREFUSED \\(Connection refused\\)\\n`));

  // drltrace's layout, with the string read back by fgets when it returned.
  const log = runCli(['report', 'apis', db]).stdout;
  assert.match(log, /~~\d+~~ libc\.so\.6!fgets\n {4}arg 0: 0x[0-9a-f]+ => "stalk-trace was here\\n" \(type=__out char\*, size=0x8\)\n/);
  assert.match(log, /\nModule Table: count \d+\n/);

  // strcmp, which glibc resolves at load time to a CPU-specific implementation.
  const [strcmp] = calls(db, "'strcmp'");
  assert.deepEqual(args(db, strcmp.id).map((a) => a.text), [MESSAGE, MESSAGE]);
  assert.equal(strcmp.ret, 0);

  // Without --only-from-app, stdio's own calls inside the C library are there too.
  assert.ok(count(db, "SELECT count(*) FROM api_log WHERE returns_to NOT LIKE 'apis!%'") > 0);
});

test('--only-from-app keeps the app\'s library calls and drops the C library\'s calls to itself', { skip }, () => {
  const db = recordTrace('apis', ['--only-from-app'], [path, String(port)]);
  // Every call returns into the app: main, and (followed from its first code to its exit) its
  // constructors' and destructors' calls such as __cxa_finalize.
  assert.equal(count(db, "SELECT count(*) FROM api_log WHERE returns_to NOT LIKE 'apis!%'"), 0);
  const names = query(db, 'SELECT name FROM api_log ORDER BY seq').map((r) => String(r.name));
  for (const fn of ['write', 'socket', 'connect', 'fgets', 'fclose']) assert.ok(names.includes(fn), `${fn} in ${names.join(', ')}`);
  assert.ok(names.includes('open') || names.includes('open64'));
  assert.equal(names.includes('malloc'), false, 'fopen\'s malloc is the C library\'s own call');
});

test('-i/-x choose functions by MODULE!FUNCTION globs; --only-to-lib and --ignore-underscore narrow further', { skip }, () => {
  const names = (args: string[]) => {
    const db = recordTrace('apis', args, [path, String(port)]);
    return query(db, 'SELECT DISTINCT module, name FROM api_log').map((r) => [String(r.module), String(r.name)]);
  };
  const str = names(['-i', 'libc.so*!str*', '-x', 'strtol']);
  assert.ok(str.some(([, n]) => n === 'strcmp'), JSON.stringify(str));
  assert.deepEqual(str.filter(([m, n]) => !m.startsWith('libc.so') || !n.startsWith('str') || n === 'strtol'), []);

  const plain = names(['--apis', '--ignore-underscore', '--only-to-lib', 'libc.so*']);
  assert.ok(plain.length > 5, JSON.stringify(plain));
  assert.deepEqual(plain.filter(([m, n]) => n.startsWith('_') || !m.startsWith('libc.so')), []);
});
