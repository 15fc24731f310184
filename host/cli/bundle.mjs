#!/usr/bin/env node
// Bundles the compiled command line (dist/host/) into dist/bundle/ with esbuild: every command
// pays Node's module loader, which over yargs' and our own sixty-odd small files costs more than
// the command's start-up itself. Code splitting keeps each command's work in a chunk of its own,
// loaded when the command runs.
//
// Everything lands in one folder, so a worker started as `new URL('./NAME.js', import.meta.url)`
// from any chunk is found: each host/**/NAME-worker.ts is an entry point of that name.
import { readdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const compiled = join(root, 'dist', 'host');
const out = join(root, 'dist', 'bundle');

const workers = readdirSync(join(root, 'host'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('-worker.ts'));
const entryPoints = { 'stalk-trace': join(compiled, 'cli', 'main.js') };
for (const file of workers) {
  const name = basename(file, '.ts');
  if (name in entryPoints) throw new Error(`two workers are named ${name}: dist/bundle/ is one folder`);
  entryPoints[name] = join(compiled, file.replace(/\.ts$/, '.js'));
}

// The runtime dependencies (each with native or WebAssembly parts) load from node_modules; what
// the command line imports from the devDependencies (yargs) is bundled, so it is not installed.
const { dependencies = {}, optionalDependencies = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const external = Object.keys({ ...dependencies, ...optionalDependencies });

/**
 * yargs renders a command's help text whenever the command runs (to have it at hand should the
 * command fail), and string-width, which measures that text, builds an Intl.Segmenter and
 * Unicode-property regular expressions as it loads: that alone was a third of a command's
 * start-up. So string-width and wrap-ansi load on their first call, and string-width is not
 * needed for printable ASCII, one column a character, which nearly all our help text is.
 */
const DEFERRED = {
  'string-width': (load) => `(text, options) => typeof text === 'string' && /^[\\x20-\\x7e]*$/.test(text) ? text.length : ${load}(text, options)`,
  'wrap-ansi': (load) => `(...args) => ${load}(...args)`,
};
const deferred = {
  name: 'deferred',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${Object.keys(DEFERRED).join('|')})$`) }, async ({ path, resolveDir, kind, pluginData }) => {
      if (pluginData === 'real') return undefined;
      const real = await b.resolve(path, { resolveDir, kind, pluginData: 'real' });
      return { path: relative(root, real.path), namespace: 'deferred', pluginData: { name: path, real: real.path }, errors: real.errors };
    });
    b.onLoad({ filter: /.*/, namespace: 'deferred' }, ({ pluginData: { name, real } }) => ({
      contents: `let real;\nexport default ${DEFERRED[name](`(real ??= require(${JSON.stringify(real)}).default)`)};\n`,
      loader: 'js',
      resolveDir: dirname(real),
    }));
  },
};

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints,
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  sourcemap: true,
  plugins: [deferred],
  logLevel: 'warning',
});

// esbuild leaves worker URLs alone: each must name a file it wrote, and each worker be started.
const started = new Set();
for (const file of readdirSync(out).filter((f) => f.endsWith('.js'))) {
  for (const [, target] of readFileSync(join(out, file), 'utf8').matchAll(/new URL\("\.\/([^"]+)", import\.meta\.url\)/g)) {
    if (!existsSync(join(out, target))) throw new Error(`dist/bundle/${file} starts ${target}, which the bundle does not have`);
    started.add(target);
  }
}
for (const file of workers) {
  if (!started.has(`${basename(file, '.ts')}.js`)) throw new Error(`nothing in dist/bundle/ starts ${file} as new URL('./NAME.js', import.meta.url)`);
}
