import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { packagePath } from '../host/paths.js';
import { runCli } from './helpers.js';

const commands = (help: string) => [...help.matchAll(/^ {2}stalk-trace (\w+)/gm)].map((m) => m[1]);

test('--version prints the package version', () => {
  const { version } = JSON.parse(readFileSync(packagePath('package.json'), 'utf8'));
  const r = runCli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), version);
});

test('every listed command has its own --help', () => {
  const help = runCli(['--help']);
  assert.equal(help.code, 0);
  const listed = commands(help.stdout);
  assert.ok(listed.includes('ingest'));
  for (const command of listed) {
    const r = runCli([command, '--help']);
    assert.equal(r.code, 0, `${command} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`stalk-trace ${command}`));
  }
});

test('an unknown command or option is a usage error, exit 1, without a stack trace', () => {
  for (const args of [['frobnicate'], ['ingest', 'x.stcap', '--no-such-option'], []]) {
    const r = runCli(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /^stalk-trace: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
