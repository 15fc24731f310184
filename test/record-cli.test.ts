// What record and devices do before any device is contacted: argument checks, and the one
// sentence that says Frida's binding is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFuncSpec } from '../host/session/func-spec.js';
import { FRIDA_MISSING } from '../host/session/frida.js';
import { runCli } from './helpers.js';

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
    [['-f', '/bin/true', '--func', 'lib.so!'], /^stalk-trace: bad --func spec "lib\.so!"/],
    [['-f', '/bin/true', '--events', 'call,jump'], /^stalk-trace: --events takes a list of/],
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
    assert.equal(r.stderr, `stalk-trace: ${FRIDA_MISSING}\n`);
    assert.equal(r.stdout, '');
  }
});
