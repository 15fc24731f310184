import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../host/base/paths.js';
import { app, traceOf } from './analysis-fixtures.js';
import { runCli, tempDir, type CliResult } from './helpers.js';

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

test('the bundle prints the help its modules print unbundled, word for word and column for column', () => {
  const unbundled = (args: string[]) => spawnSync(process.execPath, [packagePath('dist', 'host', 'cli', 'main.js'), ...args], { encoding: 'utf8' }).stdout;
  const help = runCli(['--help']).stdout;
  for (const args of [[], ...commands(help).map((c) => [c]), ['report', 'hotspots']].map((a) => [...a, '--help'])) {
    const r = runCli(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.equal(r.stdout, unbundled(args), args.join(' '));
  }
});

test('an unknown command or option is a usage error, exit 1, without a stack trace', () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /^stalk-trace: unknown command frobnicate; the commands are record, devices, ingest, info, query, replay, export, upgrade or report\n$/],
    [['ingest', 'x.stcap', '--no-such-option'], /^stalk-trace: unknown option --no-such-option for ingest\n/],
    [['report', 'hotspots', 'x.db', '--bogus', '-z'], /^stalk-trace: unknown options --bogus, -z for report hotspots\n/],
    [[], /^stalk-trace: name one target: -f PROGRAM \[ARGS\.\.\.\] to spawn it, -p PID or -n NAME to attach\n$/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, message);
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
  refused(runCli(['info']), /^stalk-trace: info needs <trace>, the trace database to read\nRun `stalk-trace --help` for usage\.\n$/);
  refused(runCli(['report', 'calltree']), /^stalk-trace: report calltree needs <trace>, the trace database to read\n/);
  refused(runCli(['ingest']), /^stalk-trace: ingest needs <capture>, the capture file \(\.stcap\) to ingest\n/);
  refused(runCli(['report']), /^stalk-trace: report needs one of hotspots, calltree, apis or syscalls\n/);
  refused(runCli(['report', 'bogus', trace]), /^stalk-trace: unknown report bogus; name one of hotspots, calltree, apis or syscalls\n/);
  refused(runCli(['replay', trace, '--from', 'abc']), /^stalk-trace: --from takes a number\n/);
  refused(runCli(['report', 'hotspots', trace, '--top', 'many']), /^stalk-trace: --top takes a number\n/);
});

test('usage errors and help are in English whatever the locale, so the sentences above hold', () => {
  const german = { LC_ALL: 'de_DE.UTF-8', LANG: 'de_DE.UTF-8' };
  refused(runCli(['info'], { env: german }), /^stalk-trace: info needs <trace>, the trace database to read\n/);
  refused(runCli(['query', trace, 'select 1', '--csv', '--json'], { env: german }), /^stalk-trace: Arguments csv and json are mutually exclusive\n/);
  assert.match(runCli(['--help'], { env: german }).stdout, /^Commands:$/m);
});

test('file system failures are said in words: a missing directory, a directory', () => {
  refused(runCli(['export', trace, '-F', 'folded', '-o', join(dir, 'no', 'such', 'dir.txt')]),
    new RegExp(`^stalk-trace: cannot write ${join(dir, 'no', 'such', 'dir.txt')}: the directory ${join(dir, 'no', 'such')} does not exist\\n$`));
  refused(runCli(['export', trace, '-F', 'folded', '-o', dir]), /: it is a directory\n$/);
  refused(runCli(['ingest', dir, '-o', join(dir, 'x.db')]), new RegExp(`^stalk-trace: cannot open capture ${dir}: it is a directory\\n$`));
});

test('a damaged or empty database is refused in one sentence, by every reader', () => {
  const empty = join(dir, 'empty.db');
  writeFileSync(empty, '');
  refused(runCli(['info', empty]), /is an empty database, not a stalk-trace trace\n$/);

  // Events whose kind byte is not one the schema knows.
  const damaged = join(dir, 'damaged.db');
  copyFileSync(trace, damaged);
  const db = new Database(damaged);
  db.prepare('UPDATE event_chunks SET codec = 0, data = zeroblob(count * 16)').run();
  db.close();
  for (const args of [['replay', damaged], ['export', damaged, '-F', 'jsonl'], ['report', 'calltree', damaged]]) {
    const r = runCli(args);
    refused(r, /^stalk-trace: the trace database is damaged: thread 1 has an event of unknown kind 0\n$/);
  }

  // Compressed events that do not decompress, and a codec no stalk-trace wrote.
  const garbled = join(dir, 'garbled.db');
  copyFileSync(trace, garbled);
  const g = new Database(garbled);
  g.prepare("UPDATE event_chunks SET codec = 1, data = x'ffffffff'").run();
  g.close();
  // (A query that reads only thread_id and kind is answered from the chunks' kind counts, without the blobs.)
  for (const args of [['replay', garbled], ['export', garbled, '-F', 'jsonl'], ['query', garbled, 'SELECT sum(depth) FROM events']]) {
    refused(runCli(args), /^stalk-trace: the trace database is damaged: an event chunk of thread 1 cannot be decompressed\n$/);
  }
  const unknown = new Database(garbled);
  unknown.prepare('UPDATE event_chunks SET codec = 7').run();
  unknown.close();
  refused(runCli(['replay', garbled]), /^stalk-trace: the trace database is damaged: an event chunk of thread 1 is stored with unknown codec 7\n$/);

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
