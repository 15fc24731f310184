import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import { generateCapture } from './scenario/generate.js';
import type { Scenario } from './scenario/scenario.js';
import { fixturePath, fixtureScenarios } from './fixtures/fixtures.js';
import { app } from './analysis-fixtures.js';
import { CLI, runCli, tempDir, type CliResult } from './helpers.js';
import { CaptureHeader, ChunkHeader, FrameHeader, FrameType } from '../host/schema/layout.generated.js';

const HEADER = CaptureHeader.size;
const FRAME_HEADER = FrameHeader.size;
const frameLength = (bytes: Buffer, at: number) => bytes.readUInt32LE(at + FrameHeader.length);

/** Where each frame of a capture starts, and where the last whole one ends. */
function frameOffsets(bytes: Buffer): { starts: number[]; end: number } {
  const starts: number[] = [];
  let at = HEADER;
  while (at + FRAME_HEADER <= bytes.length && at + FRAME_HEADER + frameLength(bytes, at) <= bytes.length) {
    starts.push(at);
    at += FRAME_HEADER + frameLength(bytes, at);
  }
  return { starts, end: at };
}

/** One sentence on stderr, exactly, and a failure status. */
function refused(r: CliResult, sentence: string, code = 1): void {
  assert.equal(r.stderr, `stalk-trace: ${sentence}\n`);
  assert.equal(r.code, code);
}

const listing = (dir: string) => readdirSync(dir).sort();

/** A copy of the demo capture in `dir`. */
function demoIn(dir: string): string {
  const capture = join(dir, 'c.stcap');
  copyFileSync(fixturePath('demo.stcap'), capture);
  return capture;
}

test('someone else\'s SQLite database is refused unchanged, by ingest and by readers', () => {
  const dir = tempDir();
  const capture = demoIn(dir);
  const made: Array<[string, (db: Database.Database) => void]> = [
    ['people1.db', (db) => { db.exec('CREATE TABLE people (name TEXT)'); db.pragma('user_version = 1'); }],
    ['people2.db', (db) => { db.exec('CREATE TABLE people (name TEXT)'); db.pragma('user_version = 2'); }],
    ['lookalike.db', (db) => {
      for (const table of ['trace', 'threads', 'locations', 'event_chunks']) db.exec(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name TEXT)`);
      db.pragma('user_version = 2');
    }],
    ['wal.db', (db) => { db.pragma('journal_mode = WAL'); db.exec('CREATE TABLE people (name TEXT)'); db.pragma('user_version = 2'); }],
  ];
  for (const [name, make] of made) {
    const path = join(dir, name);
    const db = new Database(path);
    make(db);
    db.close();
    const before = readFileSync(path);
    const files = listing(dir);
    refused(runCli(['ingest', capture, '-o', path]), `${path} is a SQLite database, but not a stalk-trace trace; choose another output file`);
    refused(runCli(['info', path]), `${path} is a SQLite database, but not a stalk-trace trace`);
    assert.ok(readFileSync(path).equals(before), `${name} changed`);
    assert.deepEqual(listing(dir), files);
  }
});

test('a new trace carries stalk-trace\'s application id; one from before it is known by its tables', () => {
  const dir = tempDir();
  const capture = demoIn(dir);
  const path = join(dir, 'c.db');
  writeFileSync(path, '');
  assert.equal(runCli(['ingest', capture, '-o', path]).code, 0, 'a zero-length output is a new trace');
  const db = new Database(path);
  assert.equal(db.pragma('application_id', { simple: true }), 0x53547263);
  db.pragma('application_id = 0');
  db.close();
  assert.equal(runCli(['info', path]).code, 0);
  const again = runCli(['ingest', capture, '-o', path]);
  assert.equal(again.stdout.split('\n')[0], `${path} already holds all of ${capture}`);
});

test('a capture without one complete frame writes nothing, and leaves an empty output empty', () => {
  const dir = tempDir();
  const bytes = readFileSync(fixturePath('demo.stcap'));
  const firstEnd = HEADER + FRAME_HEADER + frameLength(bytes, HEADER);
  const cut = join(dir, 'cut.stcap');
  const out = join(dir, 'x.db');
  for (const at of [HEADER, HEADER + 8, HEADER + FRAME_HEADER, firstEnd - 1]) {
    writeFileSync(cut, bytes.subarray(0, at));
    refused(runCli(['ingest', cut, '-o', out]), `${cut} holds no complete frame: nothing was recorded in it`);
    assert.deepEqual(listing(dir), ['cut.stcap'], `cut at ${at}`);
    writeFileSync(out, '');
    refused(runCli(['ingest', cut, '-o', out]), `${cut} holds no complete frame: nothing was recorded in it`);
    assert.deepEqual(listing(dir), ['cut.stcap', 'x.db'], `cut at ${at}, over an empty file`);
    assert.equal(statSync(out).size, 0);
    rmSync(out);
  }
});

/** The demo capture with the first chunk of its events frame `nth` (from 0) made unreadable, its checksum still right. */
function badChunkCapture(path: string, nth: number): { frameAt: number; index: number; frames: number } {
  const bytes = readFileSync(fixturePath('demo.stcap'));
  const { starts } = frameOffsets(bytes);
  const events = starts.filter((at) => bytes.readUInt8(at + FrameHeader.type) === FrameType.events);
  const frameAt = events[nth];
  bytes[frameAt + FRAME_HEADER + ChunkHeader.magic] ^= 0xff;
  const payload = bytes.subarray(frameAt + FRAME_HEADER, frameAt + FRAME_HEADER + frameLength(bytes, frameAt));
  bytes.writeUInt32LE(crc32(payload), frameAt + FrameHeader.payloadCrc);
  writeFileSync(path, bytes);
  return { frameAt, index: starts.indexOf(frameAt), frames: starts.length };
}

test('a corrupt chunk is named with its capture and offset; --keep-good stores every frame before it', () => {
  const dir = tempDir();
  const bad = join(dir, 'bad.stcap');
  const { frameAt, index, frames } = badChunkCapture(bad, 1);
  assert.ok(index >= 2);
  const out = join(dir, 'out.db');
  writeFileSync(out, '');
  refused(runCli(['ingest', bad, '-o', out]),
    `${bad} is corrupt at byte offset ${frameAt + FRAME_HEADER}: bad chunk magic; run ingest again with --keep-good to keep every frame before it`);
  assert.deepEqual(listing(dir), ['bad.stcap', 'out.db']);
  assert.equal(statSync(out).size, 0);

  const kept = runCli(['ingest', bad, '-o', out, '--keep-good']);
  assert.equal(kept.code, 0, kept.stderr);
  const leftBytes = (statSync(bad).size - frameAt).toLocaleString('en-US');
  assert.equal(kept.stderr, `warning: ${bad} is corrupt at byte offset ${frameAt + FRAME_HEADER}: bad chunk magic; kept every frame before it ` +
    `and left out ${frames - index} frames (${leftBytes} bytes) from byte offset ${frameAt} to the end\n`);
  assert.equal(kept.stdout.split('\n')[0], `ingested ${index} frames from ${bad} into ${out}`);
  assert.deepEqual(listing(dir), ['bad.stcap', 'out.db']);
  const db = new Database(out, { readonly: true });
  assert.equal(db.prepare('SELECT ingested_bytes FROM trace').pluck().get(), frameAt);
  db.close();
});

test('readers of a database without its trace row say so in one sentence', () => {
  const dir = tempDir();
  const capture = demoIn(dir);
  const path = join(dir, 'c.db');
  assert.equal(runCli(['ingest', capture, '-o', path]).code, 0);
  const db = new Database(path);
  db.exec('DELETE FROM trace');
  db.close();
  for (const args of [['info', path], ['report', 'calltree', path], ['replay', path], ['query', path, 'SELECT 1'], ['export', path, '-F', 'jsonl']]) {
    refused(runCli(args), `${path} holds no trace: the ingest that made it stopped before storing anything; ingest its capture again`);
  }
});

test('"already holds all of" is said only of a database that holds the whole capture', () => {
  const dir = tempDir();
  const whole = join(dir, 'whole.stcap');
  generateCapture(whole, { ...fixtureScenarios().demo, chunkRecords: 100, chunksPerFrame: 2 });
  const bytes = readFileSync(whole);
  const torn = join(dir, 'torn.stcap');
  const { starts } = frameOffsets(bytes);
  const tornEnd = starts[Math.floor(starts.length * 0.6)];
  writeFileSync(torn, bytes.subarray(0, tornEnd));
  const path = join(dir, 't.db');
  assert.match(runCli(['ingest', torn, '-o', path]).stdout, /^ingested \d+ frames/);
  assert.equal(runCli(['ingest', torn, '-o', path]).stdout.split('\n')[0], `${path} already holds all of ${torn}`);
  assert.match(runCli(['ingest', whole, '-o', path]).stdout, /^ingested \d+ frames/);
  refused(runCli(['ingest', torn, '-o', path]), `${path} holds more of this capture than ${torn} does (up to byte offset ${bytes.length}, ` +
    `the file to ${tornEnd}): ${torn} is a shorter copy, with nothing to add`);
});

/** main -> step x n -> leaf x 4 on one thread: 2 (1 + 5n) events, enough that ingest takes a while. */
function longScenario(n: number): Scenario {
  return {
    chunkRecords: 16384,
    steps: [{ load: app }, { thread: 1, calls: [{ fn: 'app!main', children: [{ fn: 'app!a', count: n, children: [{ fn: 'app!b', count: 4 }] }] }] }],
  };
}

const STEPS = 400_000;
const longDir = tempDir();
const longCapture = join(longDir, 'long.stcap');
generateCapture(longCapture, longScenario(STEPS));

/** Resolves when `path` exists, or when the process ends first; watches its directory, no timed polling. */
function appeared(path: string, exited: Promise<unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    const watcher = watch(dirname(path), () => {
      if (existsSync(path)) done(true);
    });
    const done = (seen: boolean) => {
      watcher.close();
      resolve(seen);
    };
    void exited.then(() => done(existsSync(path)));
    if (existsSync(path)) done(true);
  });
}

/** Starts `stalk-trace ingest`, waits for `marker` to appear, sends `signal`; returns the exit and stderr. */
async function interruptIngest(args: string[], marker: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'ingest', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  assert.ok(await appeared(marker, exited), `${marker} never appeared: ${stderr}`);
  child.kill(signal);
  return { code: await exited, stderr };
}

test('Ctrl+C during ingest of a new database leaves nothing behind', async () => {
  const dir = tempDir();
  const capture = join(dir, 'long.stcap');
  copyFileSync(longCapture, capture);
  const path = join(dir, 'long.db');
  const { code, stderr } = await interruptIngest([capture, '-o', path], `${path}.partial`, 'SIGINT');
  assert.equal(stderr, `stalk-trace: interrupted: ${path} was not created\n`);
  assert.equal(code, 130);
  assert.deepEqual(listing(dir), ['long.stcap']);
});

test('SIGTERM during ingest that continues a trace keeps what was stored, and ingest resumes from there', async () => {
  const dir = tempDir();
  const capture = join(dir, 'long.stcap');
  copyFileSync(longCapture, capture);
  const torn = join(dir, 'torn.stcap');
  writeFileSync(torn, readFileSync(capture).subarray(0, Math.floor(statSync(capture).size * 0.3)));
  const path = join(dir, 'long.db');
  assert.equal(runCli(['ingest', torn, '-o', path]).code, 0);
  const { code, stderr } = await interruptIngest([capture, '-o', path], `${path}-wal`, 'SIGTERM');
  assert.match(stderr, new RegExp(`^stalk-trace: interrupted: ${path} keeps everything up to byte offset \\d+ of ${capture}; ` +
    'run the same ingest again to continue\n$'));
  assert.equal(code, 143);
  assert.deepEqual(listing(dir), ['long.db', 'long.stcap', 'torn.stcap']);
  assert.equal(runCli(['info', path]).code, 0);
  const rest = runCli(['ingest', capture, '-o', path]);
  assert.equal(rest.code, 0, rest.stderr);
  const db = new Database(path, { readonly: true });
  assert.equal(db.prepare('SELECT sum(count) FROM kind_counts').pluck().get(), 2 * (1 + 5 * STEPS));
  db.close();
});

/** Directory permissions do not bind root: as root, the CLI runs as nobody to meet them. */
const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

/** As nobody, stalk-trace itself must be readable: a checkout in a private folder (mktemp -d, /root) is not. */
const asUserSkip = Object.keys(asUser).length > 0 && spawnSync(process.execPath, [CLI, '--version'], asUser).status !== 0
  && 'the checkout cannot be read by user nobody, whom these run as under root, to meet directory permissions';

function runCliAs(args: string[]): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', ...asUser });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A directory, to be locked against writing, beside the demo capture and its trace. */
function lockedDirectory(): { dir: string; locked: string; capture: string; trace: string } {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const capture = demoIn(dir);
  const trace = join(dir, 'c.db');
  assert.equal(runCli(['ingest', capture, '-o', trace]).code, 0);
  const locked = join(dir, 'ro');
  mkdirSync(locked, 0o755);
  return { dir, locked, capture, trace };
}

/** Runs `check` with `dir` not writable, then makes it writable again so it can be removed. */
function whileLocked(dir: string, check: () => void): void {
  chmodSync(dir, 0o555);
  try {
    check();
  } finally {
    chmodSync(dir, 0o755);
  }
}

test('ingest into a directory that is not writable says it cannot create the trace, and why', { skip: asUserSkip }, () => {
  const { locked, capture } = lockedDirectory();
  whileLocked(locked, () => {
    refused(runCliAs(['ingest', capture, '-o', join(locked, 't.db')]), `cannot create ${join(locked, 't.db')}: permission denied`);
    assert.deepEqual(listing(locked), []);
  });
});

test('a WAL trace in a directory that is not writable is read when it can be, and said why not when it cannot', { skip: asUserSkip }, () => {
  const { dir, locked, trace } = lockedDirectory();
  // A trace left in WAL mode, its log checkpointed and gone: all of it is in the file.
  const wal = join(locked, 'wal.db');
  copyFileSync(trace, wal);
  const w = new Database(wal);
  w.pragma('journal_mode = WAL');
  w.close();
  // A database whose last changes are still in its log: they cannot be read without a -shm file.
  const logged = join(locked, 'logged.db');
  const writer = new Database(join(dir, 'logged.db'));
  writer.pragma('journal_mode = WAL');
  writer.pragma('wal_autocheckpoint = 0');
  writer.exec('CREATE TABLE trace (id INTEGER PRIMARY KEY, capture_id TEXT)');
  copyFileSync(join(dir, 'logged.db'), logged);
  copyFileSync(join(dir, 'logged.db-wal'), `${logged}-wal`);
  writer.close();
  const files = listing(locked);
  whileLocked(locked, () => {
    const info = runCliAs(['info', wal]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^target {4}demo/);
    refused(runCliAs(['info', logged]), `cannot read ${logged}: its last changes are in ${logged}-wal, and reading them needs ${logged}-shm ` +
      'created beside it, in a directory this user cannot write; copy both files to a writable directory and read the copy');
    assert.deepEqual(listing(locked), files);
  });
});

test('an output that is a directory is refused in one sentence, by ingest and by readers', () => {
  const dir = tempDir();
  const capture = demoIn(dir);
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  refused(runCli(['ingest', capture, '-o', sub]), `${sub} is a directory; choose a file name for the trace`);
  refused(runCli(['info', sub]), `${sub} is a directory, not a trace database`);
  assert.deepEqual(listing(sub), []);
});

test('a trace another writer holds is named, with who holds it and what to do', () => {
  const dir = tempDir();
  const capture = demoIn(dir);
  const bytes = readFileSync(capture);
  const torn = join(dir, 'torn.stcap');
  writeFileSync(torn, bytes.subarray(0, frameOffsets(bytes).starts[5]));
  const path = join(dir, 'c.db');
  assert.equal(runCli(['ingest', torn, '-o', path]).code, 0);
  const holder = new Database(path);
  holder.exec('BEGIN IMMEDIATE');
  refused(runCli(['ingest', capture, '-o', path]), `${path} is locked: another stalk-trace (a recording or an ingest) is writing it; try again when that ends`);
  holder.exec('ROLLBACK');
  holder.close();
  assert.equal(runCli(['ingest', capture, '-o', path]).code, 0);
});

test('a trace that reaches the file size limit is named, with the limit', { skip: !existsSync('/proc/self/limits') && 'no /proc/self/limits' }, () => {
  const dir = tempDir();
  const capture = demoIn(dir);
  const path = join(dir, 'c.db');
  const r = spawnSync('sh', ['-c', 'ulimit -f 64 && exec "$0" "$@"', process.execPath, CLI, 'ingest', capture, '-o', path], { encoding: 'utf8' });
  assert.match(r.stderr, new RegExp(`^stalk-trace: cannot write ${path}: it reached the file size limit of \\d+ bytes \\(ulimit -f\\); ` +
    'raise the limit or write elsewhere\n$'));
  assert.equal(r.status, 1);
  assert.deepEqual(listing(dir), ['c.stcap']);
});

test('a trace from an older stalk-trace is named as such, and upgrade makes it readable', () => {
  const dir = tempDir();
  const capture = demoIn(dir);
  const path = join(dir, 'old.db');
  assert.equal(runCli(['ingest', capture, '-o', path]).code, 0);
  assert.equal(runCli(['ingest', capture, '-o', join(dir, 'new.db')]).code, 0);
  // What schema version 1 had: no library-call or argument-memory tables, no frame stack pointers or syscall times, no application id,
  // events and calls stored as they are.
  const db = new Database(path);
  db.function('inflate', (data: unknown) => inflateRawSync(data as Buffer));
  for (const table of ['event_chunks', 'call_lists']) {
    db.exec(`UPDATE ${table} SET data = inflate(data) WHERE codec = 1`);
    db.exec(`ALTER TABLE ${table} DROP COLUMN codec`);
  }
  for (const table of ['api_prototypes', 'api_functions', 'api_calls', 'api_args', 'api_memory', 'syscall_memory']) db.exec(`DROP TABLE ${table}`);
  db.exec('ALTER TABLE open_frames DROP COLUMN sp');
  db.exec('DROP INDEX IF EXISTS syscalls_time');
  db.exec('ALTER TABLE syscalls DROP COLUMN time_ns');
  // Nor instruction tables (version 5).
  for (const table of ['insn_registers', 'insn_layouts', 'insn_layout_insns', 'insn_syncs_at', 'insn_sync_values']) db.exec(`DROP TABLE ${table}`);
  for (const column of ['next_seq', 'insns', 'unrecorded_regs', 'unrecorded_mem']) db.exec(`ALTER TABLE threads DROP COLUMN ${column}`);
  db.exec('ALTER TABLE event_chunks DROP COLUMN insn_seq');
  // Nor chunk kind counts (version 6), nor instruction chunks (version 7).
  db.exec('DROP TABLE event_chunk_kinds');
  for (const table of ['insn_chunks', 'insn_chunk_reg_writes', 'insn_chunk_mem_values', 'insn_chunk_regs', 'insn_chunk_pages', 'insn_kernel_writes']) {
    db.exec(`DROP TABLE ${table}`);
  }
  db.pragma('user_version = 1');
  db.pragma('application_id = 0');
  db.close();
  const before = readFileSync(path);
  refused(runCli(['info', path]), `${path} is a trace from an older stalk-trace (schema version 1), which this one cannot read as it is; ` +
    `upgrade it in place with: stalk-trace upgrade ${path}`);
  assert.ok(readFileSync(path).equals(before));
  const upgraded = runCli(['upgrade', path]);
  assert.equal(upgraded.stdout, `upgraded ${path} from trace schema version 1 to 9\n`);
  assert.equal(runCli(['info', path]).code, 0);
  assert.equal(runCli(['replay', path, '--json']).stdout, runCli(['replay', join(dir, 'new.db'), '--json']).stdout,
    'events stored before compression read as those stored after');
  for (const sql of ['SELECT * FROM event_chunk_kinds', 'SELECT kind, count(*), sum(depth) FROM events GROUP BY kind', 'SELECT thread_id, kind, count(*) FROM events GROUP BY 1, 2']) {
    assert.equal(runCli(['query', path, sql, '--csv']).stdout, runCli(['query', join(dir, 'new.db'), sql, '--csv']).stdout,
      `the upgrade counts the kinds of the chunks stored before: ${sql}`);
  }
  assert.deepEqual(listing(dir), ['c.stcap', 'new.db', 'old.db']);
});

test('a long ingest shows its progress on a terminal, and only there', { skip: spawnSync('script', ['--version']).status !== 0 && 'script (util-linux) is not installed' }, () => {
  const dir = tempDir();
  const typescript = join(dir, 'terminal.txt');
  const command = `"${process.execPath}" "${CLI}" ingest "${longCapture}" -o "${join(dir, 'tty.db')}"`;
  const r = spawnSync('script', ['-q', '-e', '-c', command, typescript], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const shown = readFileSync(typescript, 'utf8');
  assert.match(shown, new RegExp(`\\ringesting ${longCapture.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\d+% \\(\\d+ of \\d+ MiB\\)`));
  // Without a terminal, standard error stays empty.
  assert.equal(runCli(['ingest', longCapture, '-o', join(dir, 'pipe.db')]).stderr, '');
});
