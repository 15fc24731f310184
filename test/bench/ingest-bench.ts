import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCapture } from '../scenario/generate.js';
import type { Scenario } from '../scenario/scenario.js';
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

/** Returns the trace database it built, for the analysis bench. */
export function ingestBench(dir: string, events: number): string {
  const steps = Math.round(events / 10);
  const capture = join(dir, `bench-${events}.stcap`);
  const t0 = performance.now();
  generateCapture(capture, callTreeScenario(steps));
  console.log(`capture: ${(steps * 10 + 2001).toLocaleString('en-US')} events, ${mib(statSync(capture).size)} (generated in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const naive = runWorker('naive', capture, join(dir, 'naive.db'));
  const ours = runWorker('ours', capture, join(dir, 'ours.db'));
  const small = join(dir, 'small.stcap');
  generateCapture(small, callTreeScenario(Math.round(steps / 10)));
  const oursSmall = runWorker('ours', small, join(dir, 'ours-small.db'));

  const row = (name: string, r: WorkerResult) => [name, r.events.toLocaleString('en-US'), `${r.seconds.toFixed(2)} s`,
    rate(r.events / r.seconds), (r.bytes / r.events).toFixed(1), mib(r.maxRssBytes)];
  report('ingest: capture -> SQLite', ['store', 'events', 'time', 'events/s', 'bytes/event', 'peak RSS'], [
    row('naive: INSERT per event, WAL', naive),
    row('stalk-trace', ours),
    row('stalk-trace, 1/10 capture', oursSmall),
  ]);
  const speedup = (ours.events / ours.seconds) / (naive.events / naive.seconds);
  console.log(`ratio: stalk-trace ingests ${speedup.toFixed(1)}x the naive baseline's events/s (target: >= 3x, >= 2,000,000 events/s)`);
  console.log(`memory: peak RSS ${mib(oursSmall.maxRssBytes)} for ${oursSmall.events.toLocaleString('en-US')} events, ${mib(ours.maxRssBytes)} for ${ours.events.toLocaleString('en-US')}`);
  return join(dir, 'ours.db');
}
