import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../host/paths.js';
import { app, traceOf } from './analysis-fixtures.js';
import { CLI, runCli, tempDir, type CliResult } from './helpers.js';

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

const dir = tempDir();
const trace = traceOf({ steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main', children: [{ fn: 'app!a' }] }] }] }, dir, 'small');

/** One sentence on stderr, a non-zero status, and no stack trace. */
function refused(r: CliResult, message: RegExp, code = 1): void {
  assert.equal(r.code, code, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:/);
}

test('a missing argument or a non-number is a usage error, not a run with undefined or NaN', () => {
  refused(runCli(['info']), /^stalk-trace: Not enough non-option arguments.*\nRun `stalk-trace --help` for usage\.\n$/s);
  refused(runCli(['replay', trace, '--from', 'abc']), /^stalk-trace: --from takes a number\n/);
  refused(runCli(['report', 'hotspots', trace, '--top', 'many']), /^stalk-trace: --top takes a number\n/);
});

test('file system failures are said in words: a missing directory, a directory, a full disk', () => {
  refused(runCli(['export', trace, '-F', 'folded', '-o', join(dir, 'no', 'such', 'dir.txt')]),
    new RegExp(`^stalk-trace: cannot write ${join(dir, 'no', 'such', 'dir.txt')}: no such file or directory\\n$`));
  refused(runCli(['export', trace, '-F', 'folded', '-o', dir]), /: it is a directory\n$/);
  refused(runCli(['ingest', dir, '-o', join(dir, 'x.db')]), new RegExp(`^stalk-trace: cannot open capture ${dir}: it is a directory\\n$`));
  if (existsSync('/dev/full') && statSync('/dev/full').isCharacterDevice()) {
    refused(runCli(['export', trace, '-F', 'jsonl', '-o', '/dev/full']), /^stalk-trace: cannot write \/dev\/full: no space left on device\n$/);
    const full = openSync('/dev/full', 'w');
    const q = spawnSync(process.execPath, [CLI, 'query', trace, 'SELECT * FROM resolved_events', '--json'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
    closeSync(full);
    refused({ code: q.status ?? -1, stdout: '', stderr: q.stderr }, /^stalk-trace: cannot write the output: no space left on device\n$/);
  }
});

test('a damaged or empty database is refused in one sentence, by every reader', () => {
  const empty = join(dir, 'empty.db');
  writeFileSync(empty, '');
  refused(runCli(['info', empty]), /is an empty database, not a stalk-trace trace\n$/);

  // Events whose kind byte is not one the schema knows.
  const damaged = join(dir, 'damaged.db');
  copyFileSync(trace, damaged);
  const db = new Database(damaged);
  db.prepare('UPDATE event_chunks SET data = zeroblob(length(data))').run();
  db.close();
  for (const args of [['replay', damaged], ['export', damaged, '-F', 'jsonl'], ['report', 'calltree', damaged]]) {
    const r = runCli(args);
    if (r.code === 0) continue; // calltree reads the aggregates, not the events
    refused(r, /^stalk-trace: the trace database is damaged: thread 1 has an event of unknown kind 0\n$/);
  }

  // Pages SQLite itself cannot make sense of.
  const torn = join(dir, 'torn.db');
  const bytes = readFileSync(trace);
  bytes.fill(0xa5, 4096, bytes.length);
  writeFileSync(torn, bytes);
  for (const args of [['report', 'calltree', torn], ['replay', torn], ['query', torn, 'SELECT count(*) FROM locations']]) {
    const r = runCli(args);
    refused(r, /^stalk-trace: .*(cannot be read|malformed|damaged).*\n$/);
  }
});
