// What the instruction-record tests of test/live/insns.c expect on every arch (live-insn.test.ts
// for x86_64, arm64.test.ts under qemu): the values are computed here from the program's inputs,
// the registers named by the arch's calling convention.
import assert from 'node:assert/strict';
import { count, query } from './live-harness.js';

export const hex = (bytes: number[]) => Buffer.from(bytes).toString('hex');

/** The registers the function was entered with, from the sync --func writes at its entry. */
export function entryRegisters(db: string): Map<string, number> {
  const rows = query(db, "SELECT seq, reg, value FROM insn_syncs WHERE reason = 'funcEnter' ORDER BY seq, reg");
  assert.ok(rows.length > 0, 'no sync at the function entry');
  return new Map(rows.filter((r) => r.seq === rows[0].seq).map((r) => [String(r.reg), Number(r.value)]));
}

/** checksum's 64 bytes (i * 7 + 3) and its FNV-1a state after each, from key 0x811c9dc5. */
export const checksumBytes = Array.from({ length: 64 }, (_, i) => (i * 7 + 3) & 0xff);
export const checksumStates = (() => {
  const states: number[] = [];
  let h = 0x811c9dc5;
  for (const b of checksumBytes) states.push(h = Math.imul(h ^ b, 16777619) >>> 0);
  return states;
})();

/**
 * A trace of checksum (--func checksum): every byte read, every fourth state stored, every state
 * in a register in order, nothing unrecorded. `args`: the registers of its three arguments.
 */
export function assertChecksum(db: string, args: [string, string, string]): { buf: number; out: number } {
  const entry = entryRegisters(db);
  const buf = entry.get(args[0])!;
  const out = entry.get(args[2])!;
  assert.equal(entry.get(args[1]), 0x811c9dc5);

  const reads = query(db, `SELECT address, size, value FROM mem_accesses WHERE access = 'r' AND address BETWEEN ${buf} AND ${buf + 63} ORDER BY seq`);
  // Accesses of up to 8 bytes are their integer values.
  assert.deepEqual(reads, checksumBytes.map((b, i) => ({ address: buf + i, size: 1, value: b })));
  const writes = query(db, `SELECT address, size, value FROM mem_accesses WHERE access = 'w' AND address BETWEEN ${out} AND ${out + 15} ORDER BY seq`);
  assert.deepEqual(writes, [0, 1, 2, 3].map((k) => ({ address: out + 4 * k, size: 4, value: checksumStates[16 * k + 15] })));

  // Each state, in order, is the value some instruction wrote into a register.
  const written = query(db, 'SELECT value FROM reg_writes WHERE value IS NOT NULL ORDER BY seq').map((r) => Number(r.value));
  let next = 0;
  for (const v of written) if (next < checksumStates.length && v === checksumStates[next]) next++;
  assert.equal(next, 64, `states found in order: ${next} of 64`);
  // Nothing in the function went unrecorded.
  assert.equal(count(db, 'SELECT sum(unrecorded_regs) + sum(unrecorded_mem) FROM threads'), 0);
  return { buf, out };
}

/** A trace of copy16 (--func copy16, `simd`): 16 bytes read from src, into the vector register, written to dst. */
export function assertSimdCopy(db: string, dst: string, src: string, vector: string): void {
  const entry = entryRegisters(db);
  const bytes = Array.from({ length: 16 }, (_, i) => 0xa0 + i);
  assert.deepEqual(query(db, `SELECT access, address, size, value FROM mem_accesses WHERE size = 16 ORDER BY seq`), [
    { access: 'r', address: entry.get(src), size: 16, value: hex(bytes) },
    { access: 'w', address: entry.get(dst), size: 16, value: hex(bytes) },
  ]);
  assert.deepEqual(query(db, `SELECT value FROM reg_writes WHERE reg = '${vector}'`), [{ value: hex(bytes) }]);
}

/** A trace of consume (--events insn,syscall --func consume, `read FILE`): the bytes of `text` read(2) wrote, and the loop reading them. */
export function assertReadConsumed(db: string, text: string): void {
  const [kernel] = query(db, "SELECT seq, address, value, syscall_id FROM mem_accesses WHERE syscall_id IS NOT NULL");
  assert.equal(kernel.value, Buffer.from(text).toString('hex'));
  assert.deepEqual(query(db, `SELECT n.name FROM syscalls s JOIN syscall_names n ON n.nr = s.nr WHERE s.id = ${kernel.syscall_id}`), [{ name: 'read' }]);
  const at = Number(kernel.address);
  // Who last wrote each byte the loop read: the read(2) that filled the buffer.
  const origins = query(db, `SELECT r.address, (SELECT w.syscall_id FROM mem_accesses w WHERE w.access = 'w' AND w.address <= r.address
      AND w.address + w.size > r.address AND w.seq <= r.seq ORDER BY w.seq DESC LIMIT 1) AS origin
    FROM mem_accesses r WHERE r.access = 'r' AND r.size = 1 AND r.address BETWEEN ${at} AND ${at + text.length - 1} ORDER BY r.seq`);
  assert.deepEqual(origins, Array.from({ length: text.length }, (_, i) => ({ address: at + i, origin: kernel.syscall_id })));
}
