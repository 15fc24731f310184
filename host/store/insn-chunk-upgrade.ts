import type { TraceDb } from './database.js';
import { InsnWriter } from './insn-writer.js';

/** Runs moved per pass: the rows of one pass (a few hundred thousand instructions') are held in memory at once. */
const WINDOW = 1 << 15;

type Integer = number | bigint;

const halves = (v: Integer): [lo: number, hi: number] => {
  const u = BigInt.asUintN(64, BigInt(v));
  return [Number(u & 0xffffffffn), Number(u >> 32n)];
};

/**
 * Schema 7: the rows of insn_runs, insn_reg_writes and mem_accesses (schema 5) become
 * insn_chunks as an ingest writes them, the kernel's writes insn_kernel_writes rows; then the
 * old tables go. A pass at a time, by seq: one pass's runs, their register writes and accesses.
 */
export function moveInsnsToChunks(db: TraceDb): void {
  const writer = new InsnWriter(db);
  const runs = db.prepare(`SELECT r.seq, r.thread_id, r.layout_id, l.insn_count FROM insn_runs r JOIN insn_layouts l ON l.id = r.layout_id
    WHERE r.seq >= ? ORDER BY r.seq LIMIT ${WINDOW}`);
  const regs = db.prepare('SELECT id FROM insn_registers').pluck().all() as number[];
  const writes = db.prepare('SELECT seq, reg, value FROM insn_reg_writes WHERE reg = ? AND seq >= ? AND seq < ?').safeIntegers();
  // By rowid: the order an ingest stored them in, a run's in its layout's order.
  const accesses = db.prepare(`SELECT seq, access, address, value FROM mem_accesses WHERE syscall_id IS NULL AND seq >= ? AND seq < ?
    ORDER BY rowid`).safeIntegers();
  let from = 0;
  for (;;) {
    const page = runs.all(from) as { seq: number; thread_id: number; layout_id: number; insn_count: number }[];
    if (page.length === 0) break;
    const last = page[page.length - 1];
    const end = last.seq + last.insn_count;
    const regRows = regs.flatMap((reg) => writes.all(reg, from, end) as { seq: bigint; reg: bigint; value: bigint | Buffer | null }[]);
    regRows.sort((a, b) => Number(a.seq - b.seq) || Number(a.reg - b.reg));
    const memRows = accesses.all(from, end) as { seq: bigint; access: string; address: bigint; value: Buffer | null }[];
    let w = 0;
    let m = 0;
    for (const run of page) {
      const runEnd = run.seq + run.insn_count;
      // The run's accesses, one per memory entry of its layout.
      let entries = 0;
      while (m + entries < memRows.length && Number(memRows[m + entries].seq) < runEnd) entries++;
      const chunk = writer.run(run.seq, run.thread_id, run.layout_id, run.insn_count, entries);
      for (; w < regRows.length && Number(regRows[w].seq) < runEnd; w++) {
        const { seq, reg, value } = regRows[w];
        if (value === null) chunk.regUnrecorded(Number(seq), Number(reg));
        else if (Buffer.isBuffer(value)) chunk.regBytes(Number(seq), Number(reg), value);
        else chunk.regInteger(Number(seq), Number(reg), ...halves(value));
      }
      for (let i = 0; i < entries; i++, m++) chunk.mem(i, memRows[m].access === 'w', ...halves(memRows[m].address), memRows[m].value);
    }
    from = end;
  }
  writer.flush();
  db.exec(`INSERT INTO insn_kernel_writes (seq, address, size, value, syscall_id)
    SELECT seq, address, size, value, syscall_id FROM mem_accesses WHERE syscall_id IS NOT NULL ORDER BY rowid`);
  db.exec('DROP TABLE insn_runs; DROP TABLE insn_reg_writes; DROP TABLE mem_accesses;');
}
