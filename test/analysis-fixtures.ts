// Small scenarios the analysis tests share, and a helper that turns one into a trace database.
import { join } from 'node:path';
import { ingestCapture } from '../host/ingest/ingest-capture.js';
import { generateCapture } from './scenario/generate.js';
import type { ModuleSpec, Scenario } from './scenario/scenario.js';
import { tempDir } from './helpers.js';

export const app: ModuleSpec = {
  name: 'app', path: '/opt/app/app', base: 0x400000, size: 0x10000,
  functions: [
    { name: 'main', offset: 0x1000, size: 0x100, code: [0x55, 0x48, 0x89, 0xe5, 0xc3] },
    { name: 'a', offset: 0x1100, size: 0x40 }, { name: 'b', offset: 0x1200, size: 0x40 }, { name: 'c', offset: 0x1300, size: 0x40 },
  ],
};

export const libc: ModuleSpec = {
  name: 'libc.so.6', path: '/lib/libc.so.6', base: 0x7f0000000000, size: 0x200000,
  functions: [{ name: 'write', offset: 0x1000, size: 0x80 }, { name: 'strlen', offset: 0x2000, size: 0x40 }],
};

/** main -> a x2 -> b x3 (blocks 1, 2, 3), on one thread, with block events: hand-checkable costs. */
export function blocksScenario(bCount = 3): Scenario {
  return {
    events: ['call', 'ret', 'block'],
    steps: [{ load: app }, {
      thread: 100, name: 'main', calls: [{ fn: 'app!main', blocks: 1, children: [{ fn: 'app!a', count: 2, blocks: 2, children: [{ fn: 'app!b', count: bCount, blocks: 3 }] }] }],
    }],
  };
}

export function traceOf(s: Scenario, dir = tempDir(), name = 'trace'): string {
  const capture = join(dir, `${name}.stcap`);
  const db = join(dir, `${name}.db`);
  generateCapture(capture, s);
  ingestCapture(capture, db, () => {});
  return db;
}
