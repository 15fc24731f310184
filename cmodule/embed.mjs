#!/usr/bin/env node
// Bundles cmodule/ into one C source per architecture for the agent (CModule compiles a single
// text, with no file system): writes agent/cmodule-source.generated.ts at build time.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const UNITS = ['platform-frida.c', 'insn-pack.c', 'ring.c', 'api-stack.c', 'memory-reads.c', 'gates.c', 'forks.c', 'insn-values-ARCH.c', 'insn-runs.c',
  'emit-ARCH.c', 'syscalls.c', 'apis.c', 'transform.c'];
const ARCHES = { x64: 'x86_64', arm64: 'arm64' };

/** Replaces each `#include "local.h"` by the file, once; system includes stay. */
function inline(file, seen) {
  return readFileSync(join(here, file), 'utf8').replace(/^#include "([^"]+)"\s*$/gm, (_, name) => {
    if (seen.has(name)) return '';
    seen.add(name);
    return inline(name, seen);
  });
}

const sources = Object.fromEntries(Object.entries(ARCHES).map(([arch, suffix]) => {
  const seen = new Set();
  const units = UNITS.map((unit) => unit.replace('ARCH', suffix));
  return [arch, units.map((unit) => inline(unit, seen)).join('\n')];
}));

// Keyed by the agent's arch names, so the agent's type checker sees a source for each arch it records.
const archType = Object.keys(ARCHES).map((arch) => JSON.stringify(arch)).join(' | ');
writeFileSync(join(here, '..', 'agent', 'cmodule-source.generated.ts'),
  `// Generated at build time by cmodule/embed.mjs from cmodule/. Do not edit.\n\nexport const CMODULE_SOURCE: Record<${archType}, string> = ${JSON.stringify(sources, null, 2)};\n`);
