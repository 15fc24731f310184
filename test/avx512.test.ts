// Frida before 17.16.0 loses a followed thread's AVX-512 registers: when stalk-trace says so, and what it sets for a spawned program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { losesAvx512, withoutAvx512 } from '../host/recording/avx512.js';

const AVX512 = ['fpu', 'sse2', 'avx2', 'avx512f', 'avx512vl'];
const AVX2 = ['fpu', 'sse2', 'avx2'];

test('Frida loses AVX-512 state before 17.16.0, and only on CPUs that have it', () => {
  for (const version of ['17.6.2', '17.15.5', '16.7.19', '17.15']) assert.equal(losesAvx512(version, AVX512), true, version);
  for (const version of ['17.16.0', '17.16.4', '17.17.0', '18.0.0', '17.16']) assert.equal(losesAvx512(version, AVX512), false, version);
  assert.equal(losesAvx512('17.6.2', AVX2), false);
  assert.equal(losesAvx512('17.6.2', []), false);
});

test("GLIBC_TUNABLES turns off glibc's AVX-512 functions, keeping what the user set", () => {
  assert.equal(withoutAvx512(undefined), 'glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW');
  assert.equal(withoutAvx512(''), 'glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW');
  assert.equal(withoutAvx512('glibc.malloc.check=3'), 'glibc.malloc.check=3:glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW');
  assert.equal(withoutAvx512('glibc.malloc.check=3:glibc.cpu.hwcaps=-AVX2:glibc.rtld.nns=8'),
    'glibc.malloc.check=3:glibc.cpu.hwcaps=-AVX2,-AVX512F,-AVX512VL,-AVX512BW:glibc.rtld.nns=8');
  // Already off, wholly or in part: each named once.
  assert.equal(withoutAvx512('glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW'), 'glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW');
  assert.equal(withoutAvx512('glibc.cpu.hwcaps=-AVX512VL'), 'glibc.cpu.hwcaps=-AVX512VL,-AVX512F,-AVX512BW');
});
