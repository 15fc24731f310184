import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../helpers.js';
import { rate, report } from './report.js';
import { buildTarget, followFromMain, loadFrida, runUnderScript, targetOutput } from './targets.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000_000);

export async function liveBench(dir: string): Promise<void> {
  const frida = await loadFrida('live recording');
  if (frida === null) return;
  const program = buildTarget(dir, 'calls-loop', ['-O2']);
  const timeFile = (name: string) => join(dir, `${name}.ns`);
  const n = String(CALLS);

  spawnSync(program, [n, timeFile('native')]);
  const native = targetOutput(timeFile('native')).ns;
  const stalker = await runUnderScript(frida, program, [n, timeFile('stalker')], followFromMain('{}'));
  const sink = await runUnderScript(frida, program, [n, timeFile('sink')], followFromMain(
    "{ events: { call: true, ret: true }, onReceive(events) { delivered += events.byteLength / (Process.pointerSize === 8 ? 32 : 16); } }"));

  const record = (name: string, extra: string[]) => {
    const db = join(dir, `${name}.db`);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [CLI, 'record', '--events', 'call,ret', '-o', db, '--keep-capture', ...extra, '-f', program, n, timeFile(name)], { encoding: 'utf8' });
    const wall = (performance.now() - t0) / 1000;
    const ended = Date.now();
    if (r.status !== 0) throw new Error(`record failed: ${r.stderr}`);
    const info = JSON.parse(spawnSync(process.execPath, [CLI, 'info', db, '--json'], { encoding: 'utf8' }).stdout);
    const stallNs = info.threads.reduce((a: number, t: { stallNs: number }) => a + t.stallNs, 0);
    const kept = (info.eventsByKind.call ?? 0) + (info.eventsByKind.ret ?? 0);
    // The trace's end is when the target exited (as the recorder saw it): what follows is finishing the database.
    return { db, info, kept, stallNs, wall, afterExit: (ended - Date.parse(info.endedAt)) / 1000, ns: targetOutput(timeFile(name)).ns };
  };
  const lossless = record('lossless', []);
  const messages = record('messages', ['--transport', 'messages']);
  const lossy = record('lossy', ['--lossy']);
  const { info, db, wall } = lossless;
  const ours = lossless.ns;
  const expected = 2 * CALLS;
  const ms = (ns: number) => `${(ns / 1e6).toFixed(0)} ms`;
  const x = (ns: number) => `${(ns / native).toFixed(1)}x`;
  report(`live: ${CALLS.toLocaleString('en-US')} calls to a tiny function (time measured inside the target)`,
    ['run', 'time', 'vs native', 'call+ret events kept', 'of expected'], [
      ['native', ms(native), '1.0x', '-', '-'],
      ['Stalker following, no events', ms(stalker.ns), x(stalker.ns), '-', '-'],
      ["Stalker's own call/ret sink", ms(sink.ns), x(sink.ns), sink.delivered.toLocaleString('en-US'), `${((100 * sink.delivered) / expected).toFixed(1)}%`],
      ['stalk-trace call,ret (lossless)', ms(ours), x(ours), lossless.kept.toLocaleString('en-US'), `${((100 * lossless.kept) / expected).toFixed(1)}%`],
      ['  the same, --transport messages', ms(messages.ns), x(messages.ns), messages.kept.toLocaleString('en-US'), `${((100 * messages.kept) / expected).toFixed(1)}%`],
      ['stalk-trace call,ret --lossy', ms(lossy.ns), x(lossy.ns), lossy.kept.toLocaleString('en-US'), `${((100 * lossy.kept) / expected).toFixed(1)}%`],
    ]);
  // The target's own time, less what it spent waiting for the drain (it measures and records that), over Stalker alone.
  const perEvent = (ours - lossless.stallNs - stalker.ns) / lossless.kept;
  const perLossyEvent = (lossy.ns - stalker.ns) / (lossy.kept + lossy.info.lost);
  console.log(`in-target cost: ${perEvent.toFixed(2)} ns per recorded event, lossless, not counting ${(lossless.stallNs / 1e6).toFixed(0)} ms waiting for the drain; ` +
    `${perLossyEvent.toFixed(2)} ns per event written or dropped in --lossy, where nothing waits (target: <= 5 ns, over Stalker following with no events)`);
  console.log(`lost: lossless ${info.lost} dropped, ${info.missing} missing; --lossy ${lossy.info.lost.toLocaleString('en-US')} dropped and counted, ` +
    `kept + dropped = ${(lossy.kept + lossy.info.lost).toLocaleString('en-US')} call+ret events, against ${lossless.kept.toLocaleString('en-US')} kept losslessly`);
  console.log(`end to end: ${rate(lossless.kept / (ours / 1e9))} events from the rings into the capture while the target ran ` +
    `(target: >= 5,000,000/s); capture ${(statSync(db.replace(/\.db$/, '.stcap')).size / 1048576).toFixed(0)} MiB; ` +
    `whole command ${wall.toFixed(1)} s including the database; database ${(statSync(db).size / lossless.kept).toFixed(1)} bytes per event`);
  uftraceRace(dir, n, [['stalk-trace record (appended by the target)', lossless], ['stalk-trace record --transport messages', messages]]);
  apiBench(dir);
}

interface Run { db: string; kept: number; wall: number; afterExit: number; ns: number }

/** The same program and calls under `uftrace record` of its -pg build: from the command's start until the data is on disk. */
function uftraceRace(dir: string, n: string, ours: [string, Run][]): void {
  const title = `live: end to end against uftrace, ${CALLS.toLocaleString('en-US')} calls to a tiny function`;
  const header = ['run', 'wall time, start to data on disk', "target's own time", 'done after target exit', 'on disk', 'bytes per event'];
  const row = (name: string, wall: number, ns: number, afterExit: string, bytes: number, events: number) =>
    [name, `${wall.toFixed(2)} s`, `${(ns / 1e9).toFixed(2)} s`, afterExit, `${(bytes / 1048576).toFixed(1)} MiB`, (bytes / events).toFixed(2)];
  const rows = ours.map(([name, r]) => row(name, r.wall, r.ns, `${r.afterExit.toFixed(2)} s`, statSync(r.db).size, r.kept));
  if (spawnSync('uftrace', ['--version']).status !== 0) {
    report(`${title}: uftrace is not installed (Debian package uftrace), ours alone`, header, rows);
    return;
  }
  const program = buildTarget(dir, 'calls-loop', ['-O2', '-pg'], 'pg');
  const data = join(dir, 'uftrace.data');
  const time = join(dir, 'uftrace.ns');
  const t0 = performance.now();
  const r = spawnSync('uftrace', ['record', '-d', data, program, n, time], { encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`uftrace record failed: ${r.stderr}`);
  const bytes = readdirSync(data).reduce((sum, f) => sum + statSync(join(data, f)).size, 0);
  const theirs = targetOutput(time).ns;
  // uftrace records an entry and an exit per call, as call and ret are two events here.
  report(title, header, [row('uftrace record (-pg build)', wall, theirs, '-', bytes, 2 * CALLS), ...rows]);
  const [, best] = ours[0];
  console.log(`end to end: stalk-trace ${(best.wall / wall).toFixed(2)}x uftrace's wall time (goal: below 1); ` +
    `target's own time ${(best.ns / theirs).toFixed(2)}x uftrace's (goal: at most 0.33); database done ${best.afterExit.toFixed(2)} s after the target's exit (goal: within 1 s)`);
}

const API_CALLS = Number(process.env.BENCH_API_CALLS ?? 200_000);

/** --apis: the cost of each recorded library call, with and without reading the string it is given. */
function apiBench(dir: string): void {
  const program = buildTarget(dir, 'strlen-loop', ['-O1', '-fno-builtin']);
  const noStrings = join(dir, 'no-strings.config');
  writeFileSync(noStrings, 'size_t|strlen|void*\n');
  const n = String(API_CALLS);
  const run = (name: string, extra: string[]) => {
    const time = join(dir, `${name}.ns`);
    const db = join(dir, `${name}.db`);
    const r = spawnSync(process.execPath, [CLI, 'record', '--events', 'call,ret', '-o', db, ...extra, '-f', program, n, time], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`record failed: ${r.stderr}`);
    const q = spawnSync(process.execPath, [CLI, 'query', db, "SELECT count(*) AS n FROM api_log WHERE name = 'strlen'", '--json'], { encoding: 'utf8' });
    return { ns: targetOutput(time).ns, recorded: q.status === 0 ? Number(JSON.parse(q.stdout).n) : 0 };
  };
  const base = run('calls', []);
  const bare = run('apis-bare', ['--apis', '--config', noStrings]);
  const strings = run('apis', ['--apis']);
  const per = (r: { ns: number }) => `${((r.ns - base.ns) / API_CALLS).toFixed(0)} ns`;
  report(`--apis: ${API_CALLS.toLocaleString('en-US')} calls to strlen (time measured inside the target)`,
    ['run', 'time', 'per call over call,ret', 'strlen calls recorded'], [
      ['call,ret only', `${(base.ns / 1e6).toFixed(0)} ms`, '-', '-'],
      ['--apis, argument as a pointer', `${(bare.ns / 1e6).toFixed(0)} ms`, per(bare), bare.recorded.toLocaleString('en-US')],
      ['--apis, string read in the target', `${(strings.ns / 1e6).toFixed(0)} ms`, per(strings), strings.recorded.toLocaleString('en-US')],
    ]);
}
