#!/usr/bin/env node
// Compiles event-tables.c, insn-tables.c with insn-chunk-read.c and chunk-ahead.c, and row-batches.c into dist/host/store/*.so,
// SQLite extensions loaded by every query session (event-tables.ts, insn-tables.ts). Each includes the sqlite3ext.h of the SQLite that
// better-sqlite3 bundles, so it matches the library that loads it.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const sqlite = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'deps', 'sqlite3');
const cc = process.env.CC ?? 'cc';
const extensions = { 'event-tables': ['event-tables.c'], 'insn-tables': ['insn-tables.c', 'insn-chunk-read.c', 'chunk-ahead.c'], 'row-batches': ['row-batches.c'] };
for (const [name, sources] of Object.entries(extensions)) {
  const out = join(root, 'dist', 'host', 'store', `${name}.so`);
  mkdirSync(dirname(out), { recursive: true });
  const args = ['-std=c11', '-O2', '-Wall', '-fPIC', '-shared', '-I', sqlite, '-I', here, '-o', out, ...sources.map((s) => join(here, s)), '-lm', '-pthread'];
  const r = spawnSync(cc, args, { stdio: 'inherit' });
  if (r.error !== undefined || r.status !== 0) {
    console.error(`building ${out} failed: stalk-trace needs a C compiler (${cc}; set CC to choose another)`);
    process.exit(1);
  }
}
