import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCapture } from '../scenario/generate.js';
import type { Scenario } from '../scenario/scenario.js';
import { insnIngestBench } from './insn-ingest-bench.js';
import { mib, rate, report } from './report.js';

const worker = fileURLToPath(new URL('./ingest-worker.js', import.meta.url));

/** main -> step x N -> (hash x2, lookup x2): ten events per step; then rare x 1000. */
export function callTreeScenario(steps: number): Scenario {
  return {
    chunkRecords: 16384,
    steps: [
      {
        load: {
          name: 'bench', base: 0x555555554000, size: 0x10000, functions: [
            { name: 'main', offset: 0x1000, size: 0x100 }, { name: 'step', offset: 0x1100, size: 0x80 },
            { name: 'hash', offset: 0x1200, size: 0x40 }, { name: 'lookup', offset: 0x1300, size: 0x40 },
            { name: 'rare', offset: 0x1400, size: 0x40 },
          ],
        },
      },
      {
        thread: 1000, name: 'bench', calls: [{
          fn: 'bench!main', noReturn: true,
          children: [
            { fn: 'bench!step', count: steps, children: [{ fn: 'bench!hash', count: 2 }, { fn: 'bench!lookup', count: 2 }] },
            { fn: 'bench!rare', count: 1000 },
          ],
        }],
      },
    ],
  };
}

/**
 * Four threads over 512 functions with basic blocks: many locations, blocks and code,
 * interleaved chunks. Each function calls the same few callees every time, as code does.
 */
export function blocksScenario(events: number): Scenario {
  const functions = Array.from({ length: 512 }, (_, i) => ({ name: `f${i}`, offset: 0x1000 + i * 0x100, size: 0x100, code: [0x55, 0x48, 0x89, 0xe5, 0x90, 0xc3] }));
  // Per outer call: call, ret, 3 blocks, and 4 inner calls of (call, ret, 2 blocks): 21 events.
  const rounds = Math.max(1, Math.round(events / 4 / 21 / 64));
  return {
    events: ['call', 'ret', 'block'],
    chunkRecords: 16384,
    steps: [
      { load: { name: 'blocks', base: 0x555555554000, size: 0x100000, functions } },
      ...Array.from({ length: rounds }, (_, r) => [0, 1, 2, 3].map((t) => ({
        thread: 2000 + t,
        calls: Array.from({ length: 64 }, (_, c) => ({
          fn: `blocks!f${(r * 64 + c + t * 97) % 512}`, blocks: 3,
          children: [{ fn: `blocks!f${((r * 64 + c + t * 97) * 13 + 1) % 512}`, count: 4, blocks: 2 }],
        })),
      }))).flat(),
    ],
  };
}

interface WorkerResult {
  events: number;
  seconds: number;
  bytes: number;
  maxRssBytes: number;
}

function runWorker(mode: string, capture: string, db: string): WorkerResult {
  const r = spawnSync(process.execPath, [worker, mode, capture, db], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${mode} ingest failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Returns the trace databases it built, for the analysis and export benches: the full capture's and the 1/10 one's. */
export function ingestBench(dir: string, events: number): { trace: string; small: string } {
  const steps = Math.round(events / 10);
  const capture = join(dir, `bench-${events}.stcap`);
  const t0 = performance.now();
  generateCapture(capture, callTreeScenario(steps));
  console.log(`capture: ${(steps * 10 + 2001).toLocaleString('en-US')} events, ${mib(statSync(capture).size)} (generated in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const naive = runWorker('naive', capture, join(dir, 'naive.db'));
  const ours = runWorker('ours', capture, join(dir, 'ours.db'));
  const small = join(dir, 'small.stcap');
  generateCapture(small, callTreeScenario(Math.round(steps / 10)));
  const smallDb = join(dir, 'ours-small.db');
  const oursSmall = runWorker('ours', small, smallDb);
  const blocks = join(dir, 'blocks.stcap');
  generateCapture(blocks, blocksScenario(events / 2));
  const naiveBlocks = runWorker('naive', blocks, join(dir, 'naive-blocks.db'));
  const oursBlocks = runWorker('ours', blocks, join(dir, 'ours-blocks.db'));

  const row = (name: string, r: WorkerResult) => [name, r.events.toLocaleString('en-US'), `${r.seconds.toFixed(2)} s`,
    rate(r.events / r.seconds), (r.bytes / r.events).toFixed(1), mib(r.maxRssBytes)];
  report('ingest: capture -> SQLite', ['store', 'events', 'time', 'events/s', 'bytes/event', 'peak RSS'], [
    row('naive: INSERT per event, WAL', naive),
    row('stalk-trace', ours),
    row('stalk-trace, 1/10 capture', oursSmall),
    row('naive, 4 threads with blocks', naiveBlocks),
    row('stalk-trace, 4 threads with blocks', oursBlocks),
  ]);
  const speedup = (ours.events / ours.seconds) / (naive.events / naive.seconds);
  const speedupBlocks = (oursBlocks.events / oursBlocks.seconds) / (naiveBlocks.events / naiveBlocks.seconds);
  console.log(`ratio: stalk-trace ingests ${speedup.toFixed(1)}x the naive baseline's events/s, ${speedupBlocks.toFixed(1)}x with 4 threads and blocks ` +
    '(target: >= 3x, >= 2,000,000 events/s)');
  console.log(`memory: peak RSS ${mib(oursSmall.maxRssBytes)} for ${oursSmall.events.toLocaleString('en-US')} events, ${mib(ours.maxRssBytes)} for ${ours.events.toLocaleString('en-US')}`);
  insnIngestBench(dir, Number(process.env.BENCH_INSNS ?? events));
  return { trace: join(dir, 'ours.db'), small: smallDb };
}
