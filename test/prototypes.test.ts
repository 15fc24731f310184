// Prototype files in drltrace's syntax: the shipped one, good files, and each kind of bad line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiPrototype, PointeeKind } from '../host/schema/layout.generated.js';
import { DEFAULT_PROTOTYPES, encodePrototype, loadPrototypes, parsePrototypes } from '../host/symbols/prototypes.js';
import { runCli, tempDir } from './helpers.js';

const dir = tempDir();

test('the shipped prototypes cover files, processes, memory, sockets, loading, strings and the environment', () => {
  const shipped = new Map(parsePrototypes(readFileSync(DEFAULT_PROTOTYPES, 'utf8'), 'libc.config').map((p) => [p.name, p]));
  const wanted = ['open', 'openat', 'read', 'write', 'close', 'fopen', 'fread', 'fwrite', 'mmap', 'mprotect', 'fork', 'execve', 'clone',
    'socket', 'connect', 'send', 'recv', 'dlopen', 'dlsym', 'strcmp', 'strncmp', 'memcmp', 'getenv', 'android_dlopen_ext'];
  assert.deepEqual(wanted.filter((n) => !shipped.has(n)), []);
  const open = shipped.get('open')!;
  assert.equal(open.ret?.name, 'int');
  assert.deepEqual(open.args.map((a) => [a.name, a.direction, a.pointee]),
    [['const char*', 'in', PointeeKind.string], ['int', 'in', PointeeKind.none], ['mode_t', 'in', PointeeKind.none]]);
  const read = shipped.get('read')!;
  assert.deepEqual(read.args.map((a) => a.direction), ['in', 'out', 'in']);
  assert.equal(shipped.get('free')!.ret, null);
});

test('spaces are not significant; comments and blank lines are skipped; void alone means no arguments', () => {
  const [p, q] = parsePrototypes('# a comment\n\n  int | strcmp | char * | const  char *  \nvoid|abort|void # trailing\n', 'x.config');
  assert.equal(p.name, 'strcmp');
  assert.deepEqual(p.args.map((a) => a.name), ['char*', 'const char*']);
  assert.deepEqual(q.args, []);
  assert.equal(q.ret, null);
});

test('__out and __inout arguments are read at return, and what they point to decides how', () => {
  const [p] = parsePrototypes('int|f|__out char*|__inout wchar_t*|__out socklen_t*|__out size_t*|__out void*|const struct sockaddr*\n', 'x.config');
  const bytes = encodePrototype(6, p);
  assert.equal(bytes.length, ApiPrototype.size);
  assert.equal(bytes[ApiPrototype.argc], 6);
  // At entry the in-and-out wide string and the socket address are read; at return every output pointer but void*.
  assert.deepEqual(bytes.slice(ApiPrototype.entry, ApiPrototype.entry + 6), [0, PointeeKind.wstring, 0, 0, 0, PointeeKind.sockaddr]);
  assert.deepEqual(bytes.slice(ApiPrototype.exit, ApiPrototype.exit + 6),
    [PointeeKind.string, PointeeKind.wstring, PointeeKind.bytes4, PointeeKind.bytes8, PointeeKind.none, PointeeKind.none]);
  // --num-max-args 2: the rest is neither read nor described to the transformer.
  const cut = encodePrototype(2, p);
  assert.equal(cut[ApiPrototype.argc], 2);
  assert.deepEqual(cut.slice(ApiPrototype.exit + 2, ApiPrototype.exit + 16), new Array(14).fill(0));
  // A char* result is read as a string.
  assert.equal(encodePrototype(1, parsePrototypes('char*|getenv|const char*', 'y')[0])[ApiPrototype.ret], PointeeKind.string);
});

const bad: Array<[string, string, RegExp]> = [
  ['no separator', 'int strcmp(char*, char*)', /bad\.config:2: expected RET\|Name\|ARG…/],
  ['missing return type', '|strcmp|char*', /bad\.config:2: the return type is missing/],
  ['missing name', 'int||char*', /bad\.config:2: the function name is missing/],
  ['name that is no identifier', 'int|str cmp|char*', /bad\.config:2: "str cmp" is not a function name/],
  ['unknown marker', 'int|f|__output char*', /bad\.config:2: argument 0: unknown marker __output \(use __out or __inout\)/],
  ['marker without a type', 'int|f|int|__out', /bad\.config:2: argument 1: __out needs a type after it/],
  ['output that is no pointer', 'int|f|__out int', /bad\.config:2: argument 0: __out int: an output argument must be a pointer/],
  ['empty argument', 'int|f|int||int', /bad\.config:2: argument 1: empty type/],
  ['type with stray characters', 'int|f|char[16]', /bad\.config:2: argument 0: "char\[16\]" is not a C type/],
  ['output return type', '__out int*|f|int', /bad\.config:2: the return type cannot be __out or __inout/],
  ['too many arguments', `int|f|${new Array(ApiPrototype.maxArgs + 1).fill('int').join('|')}`, new RegExp(`bad\\.config:2: ${ApiPrototype.maxArgs + 1} arguments; at most ${ApiPrototype.maxArgs} are read`)],
  ['a name declared twice', 'int|strcmp|char*|char*\nint|strcmp|char*', /bad\.config:3: strcmp is already declared on line 2/],
];

for (const [what, line, message] of bad) {
  test(`a prototype file with a ${what} is refused, naming the file, the line and what is wrong`, () => {
    assert.throws(() => parsePrototypes(`# first line\n${line}\n`, 'bad.config'), message);
  });
}

test('--config adds and overrides prototypes; the last declaration wins', () => {
  const extra = join(dir, 'extra.config');
  writeFileSync(extra, 'int|open|int\nint|my_check|const char*|int\n');
  const all = loadPrototypes([extra]);
  assert.deepEqual(all.get('open')!.args.map((a) => a.name), ['int']);
  assert.ok(all.has('my_check'));
  assert.ok(all.has('strcmp'), 'the shipped prototypes stay');
});

test('record reports a bad prototype file before any device is contacted, and exits non-zero', () => {
  const file = join(dir, 'broken.config');
  writeFileSync(file, 'int|ok|int\nint|f|__bogus int*\n');
  const r = runCli(['record', '--apis', '--config', file, '-f', '/bin/true']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `stalk-trace: ${file}:2: argument 0: unknown marker __bogus (use __out or __inout)\n`);
  const missing = runCli(['record', '--apis', '--config', join(dir, 'nope.config'), '-f', '/bin/true']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read prototype file .*nope\.config: no such file or directory\n$/);
});

test('record checks --num-max-args, --num-unknown-args and -i/-x globs before contacting a device', () => {
  const r = runCli(['record', '--apis', '--num-max-args', '17', '-f', '/bin/true']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--num-max-args takes a whole number from 0 to 16, not 17/);
  const g = runCli(['record', '-i', 'libc!', '-f', '/bin/true']);
  assert.equal(g.code, 1);
  assert.match(g.stderr, /-i\/--include takes FUNCTION or MODULE!FUNCTION globs, not "libc!"/);
});
