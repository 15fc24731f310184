// memory-reads.c and api-stack.c, compiled natively by every C compiler found (tcc is the family
// Frida's CModule uses) and run against real memory: pages that cannot be read, strings without
// a terminator, calls that return, recurse and are left by longjmp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packagePath } from '../host/base/paths.js';
import { cCompilers, tempDir } from './helpers.js';

const compilers = cCompilers('argument memory and library-call frames, compiled natively');
const dir = tempDir();

for (const cc of compilers) {
  test(`${cc}: argument memory is read without faulting and library calls pair with their returns`, () => {
    const exe = join(dir, `memory-check-${cc}`);
    const build = spawnSync(cc, ['-pthread', '-I', packagePath('cmodule'), '-o', exe, packagePath('test', 'native', 'memory-check.c'),
      packagePath('cmodule', 'memory-reads.c'), packagePath('cmodule', 'api-stack.c'), packagePath('test', 'native', 'platform-native.c')], { encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
    const r = spawnSync(exe, { encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
  });
}
