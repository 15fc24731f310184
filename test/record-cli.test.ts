// What record and devices do before any device is contacted: argument checks, and the one
// sentence that says Frida's binding is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFuncSpec } from '../host/recording/func-spec.js';
import { splitProgramArgs } from '../host/cli/usage.js';
import { runCli, tempDir } from './helpers.js';
import { join } from 'node:path';

const fridaLoads = await import('frida').then(() => true, () => false);

test('--func specs: offsets, module offsets, module symbols and bare symbols', () => {
  assert.deepEqual(parseFuncSpec('0x1234'), { module: null, symbol: null, offset: 0x1234 });
  assert.deepEqual(parseFuncSpec('libfoo.so!0xABC'), { module: 'libfoo.so', symbol: null, offset: 0xabc });
  assert.deepEqual(parseFuncSpec('libfoo.so!do_work'), { module: 'libfoo.so', symbol: 'do_work', offset: null });
  assert.deepEqual(parseFuncSpec('_ZN3app4mainEv'), { module: null, symbol: '_ZN3app4mainEv', offset: null });
  for (const bad of ['', '!', 'lib.so!', '!name', 'a!b!c', '0x', '0xZZ', 'lib so!x', 'with space']) {
    assert.throws(() => parseFuncSpec(bad), new RegExp(`bad --func spec "${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`), bad);
  }
});

test('a bad --func spec, a bad --events list or no target fail before any device is contacted', () => {
  const cases: [string[], RegExp][] = [
    [['--func', 'lib.so!', '-f', '/bin/true'], /^stalk-trace: bad --func spec "lib\.so!"/],
    [['--events', 'call,jump', '-f', '/bin/true'], /^stalk-trace: --events takes a list of/],
    [[], /^stalk-trace: name one target/],
    [['-p', '1', '-n', 'init'], /^stalk-trace: name one target/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, message);
  }
});

test('without the native Frida binding, record and devices say how to install it, exit 2, no stack trace', { skip: fridaLoads && 'the frida package loads here' }, () => {
  for (const args of [['devices'], ['-f', '/bin/true'], ['record', '-n', 'sshd', '--func', 'main']]) {
    const r = runCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^stalk-trace: the native Frida binding is not installed: run `npm install frida` .*then run this command again\n$/);
    assert.equal(r.stdout, '');
  }
});

test('every record argument is checked before any device is contacted', () => {
  const dir = tempDir();
  const cases: [string[], string][] = [
    [['-p', '-5'], '-p takes a process id, a whole number above 0, not -5'],
    [['-p', '1.5'], '-p takes a process id, a whole number above 0, not 1.5'],
    [['--duration', '-1', '-f', '/bin/true'], '--duration takes a number above 0, not -1'],
    [['--drain-interval', '0', '-f', '/bin/true'], '--drain-interval takes a number above 0, not 0'],
    [['--func-timeout', '-1', '-f', '/bin/true'], '--func-timeout takes a number of 0 or more, not -1'],
    [['--num-max-args', '-1', '-f', '/bin/true'], '--num-max-args takes a whole number from 0 to 16, not -1'],
    [['-t', '0', '-f', '/bin/true'], '--thread takes a whole number above 0, not 0'],
    [['-o', join(dir, 'missing', 'x.db'), '-f', '/bin/true'], `cannot write ${join(dir, 'missing', 'x.db')}: the directory ${join(dir, 'missing')} does not exist`],
    [['-o', dir, '-f', '/bin/true'], `cannot write ${dir}: it is a directory`],
    [['-o', '', '-f', '/bin/true'], '--output needs a file name'],
    [['--config', join(dir, 'none.config'), '--apis', '-f', '/bin/true'], `cannot read prototype file ${join(dir, 'none.config')}: no such file or directory`],
    [['-p', '1', '--', '-v'], 'arguments after -- are for a program that -f spawns; with -p or -n there is none'],
  ];
  for (const [args, sentence] of cases) {
    const r = runCli(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.stderr, `stalk-trace: ${sentence}\n`, args.join(' '));
  }
});

test('everything after -f PROGRAM, and after --, belongs to the program', () => {
  assert.deepEqual(splitProgramArgs(['-f', '/usr/bin/sort', '-u', 'FILE']), { own: ['-f', '/usr/bin/sort'], program: ['-u', 'FILE'] });
  assert.deepEqual(splitProgramArgs(['-o', 't.db', '-f', './app', '--', '-v']), { own: ['-o', 't.db', '-f', './app'], program: ['-v'] });
  assert.deepEqual(splitProgramArgs(['record', '--file=./app', '-o', 'x']), { own: ['record', '--file=./app'], program: ['-o', 'x'] });
  assert.deepEqual(splitProgramArgs(['-p', '12', '--duration', '2']), { own: ['-p', '12', '--duration', '2'], program: [] });
  // Other commands keep their own arguments, -f included (query -f FILE).
  assert.deepEqual(splitProgramArgs(['query', 't.db', '-f', 'q.sql', '--csv']), { own: ['query', 't.db', '-f', 'q.sql', '--csv'], program: [] });
  // Through the command line: the program's options are not stalk-trace's.
  const r = runCli(['-o', join(tempDir(), 'sort.db'), '-f', '/usr/bin/sort', '-u', '--no-such-flag']);
  assert.doesNotMatch(r.stderr, /Unknown argument/);
});
