// Instruction records on a real process (--events insn): a checksum over a known buffer with a
// known key, a SIMD copy, and bytes that read(2) put in a buffer before a loop read them. The
// expected values are computed here from the same inputs as test/live/insns.c.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { build, count, recordTrace, scratch, skip } from './live-harness.js';
import { assertChecksum, assertReadConsumed, assertSimdCopy } from './insn-checks.js';
import { runCli } from './helpers.js';
import { CaptureReader } from '../host/capture/reader.js';
import { chunkHeadersOf } from '../host/capture/chunks.js';

before(() => {
  if (!skip) build('insns');
});

test('a checksum over 64 known bytes: every byte read, every state stored, every intermediate value in a register', { skip }, () => {
  assertChecksum(recordTrace('insns', ['--events', 'insn', '--func', 'checksum']), ['rdi', 'rsi', 'rdx']);
});

test('sent in messages, where the drain packs insn records against the run before them: the same checksum, value for value', { skip }, () => {
  const db = recordTrace('insns', ['--events', 'insn', '--func', 'checksum', '--transport', 'messages', '--keep-capture']);
  assertChecksum(db, ['rdi', 'rsi', 'rdx']);
  const capture = CaptureReader.open(db.replace(/\.db$/, '.stcap'));
  const packed = [...capture.frames(0, capture.scan().end)].filter((f) => f.type === 'events')
    .flatMap((f) => [...chunkHeadersOf(f.payload)]).filter((c) => c.packs).length;
  capture.close();
  assert.ok(packed > 0, 'no chunk of the capture was packed');
});

test('a SIMD copy: the 16 bytes read, the xmm register they land in, and the 16 bytes written', { skip }, () => {
  assertSimdCopy(recordTrace('insns', ['--events', 'insn', '--func', 'copy16'], ['simd']), 'rdi', 'rsi', 'xmm0');
});

test('bytes read(2) put in a buffer are written by that syscall, and the loop over them reads what it wrote', { skip }, () => {
  const file = scratch('hello.txt');
  writeFileSync(file, 'hello\n');
  const db = recordTrace('insns', ['--events', 'insn,syscall', '--func', 'consume'], ['read', file]);
  assertReadConsumed(db, 'hello\n');
});

test('the C library\'s own code, in a distribution program: sort runs to its usual end, its qsort recorded instruction by instruction', { skip }, () => {
  const words = scratch('insn-words.txt');
  writeFileSync(words, 'pear\napple\npear\nfig\n');
  const db = scratch('sort-insn.db');
  const r = runCli(['record', '-o', db, '--events', 'insn', '--insn-flags', '--func', 'libc.so.6!qsort', '-f', '/usr/bin/sort', '-u', words]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(count(db, "SELECT count(*) FROM trace WHERE end_detail = 'exit status 0'"), 1);
  // qsort and the comparisons it calls ran inside the recording.
  assert.ok(count(db, "SELECT count(*) FROM insns WHERE location LIKE 'libc.so.6!%'") > 100);
  // Each activation starts from a full register set, at qsort's entry.
  assert.ok(count(db, "SELECT count(DISTINCT seq) FROM insn_syncs WHERE reason = 'funcEnter'") >= 1);
  assert.equal(count(db, "SELECT count(DISTINCT value) FROM insn_syncs WHERE reason = 'funcEnter' AND reg = 'rip'"), 1);
  // --insn-flags: the comparisons' flags are there, and nothing the records could hold was lost.
  assert.ok(count(db, "SELECT count(*) FROM reg_writes WHERE reg = 'rflags' AND value IS NOT NULL") > 0);
  assert.equal(count(db, 'SELECT sum(lost) + sum(missing) FROM threads'), 0);
});

test('python3 under --events insn inside malloc runs to its usual end, its long unrolled blocks split into runs', { skip }, () => {
  const db = scratch('python-insn.db');
  const r = runCli(['record', '-o', db, '--events', 'insn', '--func', 'libc.so.6!malloc', '-f', '/usr/bin/python3', '-c', 'print(sum(range(10)))']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(count(db, "SELECT count(*) FROM trace WHERE end_detail = 'exit status 0'"), 1);
  assert.ok(count(db, "SELECT count(*) FROM insns WHERE location LIKE 'libc.so.6!malloc%'") > 100);
  assert.equal(count(db, 'SELECT sum(lost) + sum(missing) FROM threads'), 0);
});
