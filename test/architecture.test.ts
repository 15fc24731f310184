// The folder layout is the architecture: each host folder is one stage or layer, and a file
// imports only from its own folder or from folders below it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { packagePath } from '../host/base/paths.js';

/** Bottom first; folders on one line are siblings, and siblings do not import each other. types/ declares outside packages. */
const LAYERS = [
  ['base', 'types'],
  ['schema'],
  ['model'],
  ['store'],
  ['symbols'],
  ['capture'],
  ['ingest'],
  ['recording', 'analysis'],
  ['cli'],
];

const rank = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
}

/** Relative specifiers a file imports: static imports and exports, dynamic imports, worker URLs. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|new URL\(\s*)'(\.{1,2}\/[^']+\.js)'/g)].map((m) => m[1]);
}

/** Every import in a tree that leaves it, as [importer, imported], both relative to the package. */
function crossings(root: string): [string, string][] {
  const out: [string, string][] = [];
  for (const file of sources(root)) {
    for (const spec of importsOf(file)) out.push([relative(packagePath(), file), relative(packagePath(), resolve(dirname(file), spec))]);
  }
  return out;
}

const folderOf = (path: string) => path.split('/')[1];

test('host files import only from their own folder or from layers below it', () => {
  const host = packagePath('host');
  const folders = readdirSync(host, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  assert.deepEqual(folders, [...rank.keys()].sort(), 'every host folder has a place in the layers');
  const upward = crossings(host)
    .filter(([from, to]) => folderOf(from) !== folderOf(to))
    .filter(([from, to]) => !(rank.get(folderOf(to))! < rank.get(folderOf(from))!))
    .map(([from, to]) => `${from} -> ${to}`);
  assert.deepEqual(upward, []);
});

test('the agent reaches the host only for the generated views of schemas/', () => {
  const outside = crossings(packagePath('agent'))
    .filter(([, to]) => !to.startsWith('agent/'))
    .filter(([, to]) => !/^host\/schema\/[a-z-]+\.generated\.js$/.test(to))
    .map(([from, to]) => `${from} -> ${to}`);
  assert.deepEqual(outside, []);
});
