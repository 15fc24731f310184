// Names a debugger would give: PLT stubs by the function they reach, separate debug files found
// by build id, MiniDebugInfo (.gnu_debugdata) — from real files built here, checked against
// binutils' own view of them (objdump, nm), never against stalk-trace's reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostSymbols } from '../host/symbols/host-symbols.js';
import { runCli, tempDir } from './helpers.js';
import { traceOf } from './analysis-fixtures.js';

const dir = tempDir();
const tools = ['gcc', 'objdump', 'objcopy', 'strip', 'nm', 'readelf', 'xz'].filter((t) => spawnSync(t, ['--version']).status !== 0);
const skip = tools.length > 0 && `needs ${tools.join(', ')} (Debian: gcc, binutils, xz-utils)`;
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/** calls.c: main -> leaf x10 -> write, built with the PLT; its build id, and its functions as nm lists them. */
function build(name: string): { path: string; buildId: string; nm: Map<string, number> } {
  const source = join(dir, 'calls.c');
  writeFileSync(source, '#include <unistd.h>\n__attribute__((noinline)) void leaf(int i) { write(1, "x", 1 + (i & 0)); }\n' +
    'int main(void) { for (int i = 0; i < 10; i++) leaf(i); return 0; }\n');
  const path = join(dir, name);
  run('gcc', ['-O1', '-o', path, source]);
  const buildId = /Build ID: ([0-9a-f]+)/.exec(run('readelf', ['-n', path]))![1];
  const nm = new Map(run('nm', [path]).trim().split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 3).map(([a, , n]) => [n, Number(`0x${a}`)]));
  return { path, buildId, nm };
}

/** objdump's `0000000000001030 <write@plt>:` lines. */
function pltStubs(path: string): Map<string, number> {
  return new Map([...run('objdump', ['-d', path]).matchAll(/^([0-9a-f]+) <(\w+@plt)>:$/gm)].map((m) => [m[2], Number(`0x${m[1]}`)]));
}

const named = (symbols: [number, number, string][], name: string) => symbols.filter((s) => s[2] === name).map((s) => s[0]);

test('PLT stubs are named by the function each one reaches, as objdump names them', { skip }, () => {
  const { path, buildId } = build('plt');
  run('strip', [path]);
  const expected = pltStubs(path);
  assert.ok(expected.has('write@plt'), 'the program calls write through the PLT');
  const symbols = hostSymbols(path, buildId);
  for (const [name, address] of expected) assert.deepEqual(named(symbols, name), [address], name);
  // A file whose build id is not the module's is not read at all.
  assert.deepEqual(hostSymbols(path, '00'.repeat(20)), []);
});

test('a stripped program is named from its separate debug file, found by build id', { skip }, () => {
  const { path, buildId, nm } = build('debuglinked');
  const root = join(dir, 'debug');
  mkdirSync(join(root, '.build-id', buildId.slice(0, 2)), { recursive: true });
  run('objcopy', ['--only-keep-debug', path, join(root, '.build-id', buildId.slice(0, 2), `${buildId.slice(2)}.debug`)]);
  run('strip', [path]);
  process.env.STALK_TRACE_DEBUG_DIRS = root;
  try {
    const symbols = hostSymbols(path, buildId);
    assert.deepEqual(named(symbols, 'leaf'), [nm.get('leaf')]);
    assert.deepEqual(named(symbols, 'main'), [nm.get('main')]);
  } finally {
    delete process.env.STALK_TRACE_DEBUG_DIRS;
  }
});

test('MiniDebugInfo: the symbol table compressed in .gnu_debugdata names a stripped program', { skip }, () => {
  const { path, buildId, nm } = build('minidebug');
  const mini = join(dir, 'mini');
  run('objcopy', ['--strip-debug', path, mini]);
  run('xz', ['-f', mini]);
  run('strip', [path]);
  run('objcopy', ['--add-section', `.gnu_debugdata=${mini}.xz`, path]);
  const symbols = hostSymbols(path, buildId);
  assert.deepEqual(named(symbols, 'leaf'), [nm.get('leaf')]);
});

test('a call through the PLT is a call of the library function, and the stub keeps its own name', { skip }, () => {
  const { path, buildId, nm } = build('traced');
  copyFileSync(path, join(dir, 'traced.unstripped'));
  run('strip', [path]);
  const stub = pltStubs(path).get('write@plt')!;
  const base = 0x555555554000;
  const trace = traceOf({
    steps: [
      { load: { name: 'traced', path, buildId, base, size: 0x5000, functions: [
        { name: 'main', offset: nm.get('main')!, size: 0x40, unreported: true }, { name: 'leaf', offset: nm.get('leaf')!, size: 0x20, unreported: true },
        { name: 'stub', offset: stub, size: 16, unreported: true }] } },
      { load: { name: 'libc.so.6', base: 0x7f0000000000, size: 0x200000, functions: [{ name: 'write', offset: 0x1000, size: 0x80 }] } },
      { thread: 1, calls: [{ fn: 'traced!main', children: [{ fn: 'traced!leaf', count: 10, children: [{ fn: 'traced!stub' }] }] }] },
    ],
  }, dir, 'plt-trace');
  const rows = runCli(['query', trace, 'SELECT callee, count(*) AS n FROM calls GROUP BY callee ORDER BY callee', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.find((r) => r.callee === 'libc.so.6!write'), { callee: 'libc.so.6!write', n: 10 });
  const stubName = runCli(['query', trace, `SELECT name FROM locations WHERE address = ${base + stub}`, '--csv']).stdout;
  assert.equal(stubName, 'name\ntraced!write@plt\n');
});
