// Instruction records on a real process (--events insn): a checksum over a known buffer with a
// known key, a SIMD copy, and bytes that read(2) put in a buffer before a loop read them. The
// expected values are computed here from the same inputs as test/live/insns.c.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { build, count, query, recordTrace, scratch, skip } from './live-harness.js';
import { runCli } from './helpers.js';

before(() => {
  if (!skip) build('insns');
});

const hex = (bytes: number[]) => Buffer.from(bytes).toString('hex');
const u32le = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b.toString('hex'); };

/** The registers the function was entered with, from the sync --func writes at its entry. */
function entryRegisters(db: string): Map<string, number> {
  const rows = query(db, "SELECT seq, reg, value FROM insn_syncs WHERE reason = 'funcEnter' ORDER BY seq, reg");
  assert.ok(rows.length > 0, 'no sync at the function entry');
  return new Map(rows.filter((r) => r.seq === rows[0].seq).map((r) => [String(r.reg), Number(r.value)]));
}

test('a checksum over 64 known bytes: every byte read, every state stored, every intermediate value in a register', { skip }, () => {
  const db = recordTrace('insns', ['--events', 'insn', '--func', 'checksum']);
  const entry = entryRegisters(db);
  const buf = entry.get('rdi')!;
  const out = entry.get('rdx')!;
  assert.equal(entry.get('rsi'), 0x811c9dc5);

  const bytes = Array.from({ length: 64 }, (_, i) => (i * 7 + 3) & 0xff);
  const states: number[] = [];
  let h = 0x811c9dc5;
  for (const b of bytes) states.push(h = Math.imul(h ^ b, 16777619) >>> 0);

  const reads = query(db, `SELECT address, size, value FROM mem_accesses WHERE access = 'r' AND address BETWEEN ${buf} AND ${buf + 63} ORDER BY seq`);
  assert.deepEqual(reads, bytes.map((b, i) => ({ address: buf + i, size: 1, value: hex([b]) })));
  const writes = query(db, `SELECT address, size, value FROM mem_accesses WHERE access = 'w' AND address BETWEEN ${out} AND ${out + 15} ORDER BY seq`);
  assert.deepEqual(writes, [0, 1, 2, 3].map((k) => ({ address: out + 4 * k, size: 4, value: u32le(states[16 * k + 15]) })));

  // Each state, in order, is the value some instruction wrote into a register.
  const written = query(db, 'SELECT value FROM reg_writes WHERE value IS NOT NULL ORDER BY seq').map((r) => Number(r.value));
  let next = 0;
  for (const v of written) if (next < states.length && v === states[next]) next++;
  assert.equal(next, 64, `states found in order: ${next} of 64`);
  // Nothing in the function went unrecorded.
  assert.equal(count(db, 'SELECT sum(unrecorded_regs) + sum(unrecorded_mem) FROM threads'), 0);
});

test('a SIMD copy: the 16 bytes read, the xmm register they land in, and the 16 bytes written', { skip }, () => {
  const db = recordTrace('insns', ['--events', 'insn', '--func', 'copy16'], ['simd']);
  const entry = entryRegisters(db);
  const bytes = Array.from({ length: 16 }, (_, i) => 0xa0 + i);
  assert.deepEqual(query(db, `SELECT access, address, size, value FROM mem_accesses WHERE size = 16 ORDER BY seq`), [
    { access: 'r', address: entry.get('rsi'), size: 16, value: hex(bytes) },
    { access: 'w', address: entry.get('rdi'), size: 16, value: hex(bytes) },
  ]);
  assert.deepEqual(query(db, "SELECT value FROM reg_writes WHERE reg = 'xmm0'"), [{ value: hex(bytes) }]);
});

test('bytes read(2) put in a buffer are written by that syscall, and the loop over them reads what it wrote', { skip }, () => {
  const file = scratch('hello.txt');
  writeFileSync(file, 'hello\n');
  const db = recordTrace('insns', ['--events', 'insn,syscall', '--func', 'consume'], ['read', file]);
  const [kernel] = query(db, "SELECT seq, address, value, syscall_id FROM mem_accesses WHERE syscall_id IS NOT NULL");
  assert.equal(kernel.value, Buffer.from('hello\n').toString('hex'));
  assert.deepEqual(query(db, `SELECT n.name FROM syscalls s JOIN syscall_names n ON n.nr = s.nr WHERE s.id = ${kernel.syscall_id}`), [{ name: 'read' }]);
  const at = Number(kernel.address);
  // Who last wrote each byte the loop read: the read(2) that filled the buffer.
  const origins = query(db, `SELECT r.address, (SELECT w.syscall_id FROM mem_accesses w WHERE w.access = 'w' AND w.address <= r.address
      AND w.address + w.size > r.address AND w.seq <= r.seq ORDER BY w.seq DESC LIMIT 1) AS origin
    FROM mem_accesses r WHERE r.access = 'r' AND r.size = 1 AND r.address BETWEEN ${at} AND ${at + 5} ORDER BY r.seq`);
  assert.deepEqual(origins, [0, 1, 2, 3, 4, 5].map((i) => ({ address: at + i, origin: kernel.syscall_id })));
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
