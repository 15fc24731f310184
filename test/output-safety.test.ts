// Writing never destroys what stalk-trace did not create: the trace being read, a file that was
// at the output path, a device or FIFO named as output. And output that could not be written is
// a failure, not a success.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { Output } from '../host/base/output.js';
import { openAnalysis } from '../host/analysis/analysis-db.js';
import { writeChrome } from '../host/analysis/export/chrome.js';
import { CLI, runCli, tempDir } from './helpers.js';
import { app, traceOf } from './analysis-fixtures.js';

const dir = tempDir();
/** Calls only, so drcov has nothing to write. */
const trace = traceOf({ steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main', children: [{ fn: 'app!a', count: 3000 }] }] }] }, dir, 'calls');
const bytesOf = (path: string) => readFileSync(path).toString('hex');

/** A character device like /dev/full, made in our own folder; null where this user may not make one. */
function fullDevice(name: string): string | null {
  const path = join(dir, name);
  return spawnSync('mknod', [path, 'c', '1', '7']).status === 0 ? path : null;
}
const canMknod = fullDevice('probe') !== null;
const noMknod = !canMknod && 'mknod is not permitted here (tests need root to make a /dev/full-like device in their folder)';

test('an export over the trace it reads is refused and the trace stays byte-identical', () => {
  const before = bytesOf(trace);
  for (const format of ['jsonl', 'chrome', 'folded']) {
    const r = runCli(['export', trace, '-F', format, '-o', trace]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `stalk-trace: cannot write ${trace}: it is the trace being read; name another file\n`);
  }
  // The same file by another name.
  const r = runCli(['export', `${dir}/./calls.db`, '-F', 'jsonl', '-o', trace]);
  assert.equal(r.code, 1);
  assert.equal(bytesOf(trace), before);
});

test('a failed export leaves the file that was at the output path as it was', () => {
  const kept = join(dir, 'c.drcov');
  writeFileSync(kept, 'keep\n');
  const r = runCli(['export', trace, '-F', 'drcov', '-o', kept]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'stalk-trace: the trace has no blocks: record with --events block for coverage\n');
  assert.equal(readFileSync(kept, 'utf8'), 'keep\n');

  // A write error half way: the file size limit (1 KiB) is reached.
  const big = join(dir, 'big.jsonl');
  writeFileSync(big, 'keep\n');
  const limited = spawnSync('sh', ['-c', `ulimit -f 2; exec "${process.execPath}" "${CLI}" export "${trace}" -F jsonl -o "${big}"`], { encoding: 'utf8' });
  assert.equal(limited.status, 1, limited.stderr);
  assert.equal(limited.stderr, `stalk-trace: cannot write ${big}: the file size limit was reached\n`);
  assert.equal(readFileSync(big, 'utf8'), 'keep\n');
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('partial')), [], 'nothing written aside is left');
});

test('a successful export replaces the file whole, keeping its mode', () => {
  const out = join(dir, 'whole.folded');
  writeFileSync(out, 'old contents that are longer than the new ones '.repeat(100), { mode: 0o640 });
  const r = runCli(['export', trace, '-F', 'folded', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(out, 'utf8'), 'app!main 1\napp!main;app!a 3000\n');
  assert.equal(statSync(out).mode & 0o777, 0o640);
});

test('a device named as output is written in place and never removed', { skip: noMknod }, () => {
  const full = fullDevice('full')!;
  const r = runCli(['export', trace, '-F', 'jsonl', '-o', full]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `stalk-trace: cannot write ${full}: no space left on device\n`);
  assert.ok(statSync(full).isCharacterDevice(), 'the device node is still there');
  const failed = runCli(['export', trace, '-F', 'drcov', '-o', full]);
  assert.equal(failed.code, 1);
  assert.ok(statSync(full).isCharacterDevice(), 'still there after a refused export');
  rmSync(full);
});

test('a FIFO named as output is written through and left in place', async () => {
  const fifo = join(dir, 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const child = spawn(process.execPath, [CLI, 'export', trace, '-F', 'folded', '-o', fifo], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const text = readFileSync(fifo, 'utf8');
  assert.equal(await exited, 0);
  assert.equal(text, 'app!main 1\napp!main;app!a 3000\n');
  assert.ok(statSync(fifo).isFIFO());
});

test('output that cannot be written fails every command, with one sentence', { skip: noMknod }, () => {
  const full = fullDevice('stdout-full')!;
  const commands = [['info', trace], ['report', 'hotspots', trace], ['report', 'calltree', trace], ['query', '--list'], ['--help'],
    ['query', trace, 'SELECT * FROM locations'], ['replay', trace], ['ingest', join(dir, 'calls.stcap'), '-o', join(dir, 'again.db')]];
  for (const args of commands) {
    const fd = openSync(full, 'w');
    const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    closeSync(fd);
    assert.equal(r.status, 1, args.join(' '));
    assert.equal(r.stderr, 'stalk-trace: cannot write the output: no space left on device\n', args.join(' '));
  }
  rmSync(full);
});

test('writing to a file through many slow drains leaves no listener behind (no warning)', () => {
  const out = join(dir, 'many.jsonl');
  const r = runCli(['export', trace, '-F', 'jsonl', '-o', out]);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, '');
  assert.equal(readFileSync(out, 'utf8').split('\n').length - 1, 6002);
});

test('an export stops when its reader goes away: nothing more is produced or buffered', async () => {
  let writes = 0;
  const reader = new Writable({
    write(_chunk, _encoding, done) {
      writes++;
      done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  const session = openAnalysis(trace);
  const out = new Output(reader);
  await writeChrome(session.db, [1], out);
  session.close();
  assert.equal(out.closed, true);
  assert.equal(writes, 1, 'one write found the reader gone; the rest of the 6002 events were never written');
});

test('the output directory is checked before anything is written', () => {
  const missing = join(dir, 'no', 'such', 'out.jsonl');
  assert.equal(runCli(['export', trace, '-F', 'jsonl', '-o', missing]).stderr,
    `stalk-trace: cannot write ${missing}: the directory ${join(dir, 'no', 'such')} does not exist\n`);
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  assert.equal(runCli(['export', trace, '-F', 'jsonl', '-o', sub]).stderr, `stalk-trace: cannot write ${sub}: it is a directory\n`);
  assert.equal(runCli(['export', trace, '-F', 'jsonl', '-o', '']).stderr, 'stalk-trace: -o needs a file name\n');
  assert.equal(existsSync(join(dir, 'no')), false);
});
