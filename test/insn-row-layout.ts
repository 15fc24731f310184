// The instruction tables as schemas 5 and 6 stored them (a row per run, per register write and
// per memory access, with their indexes), rebuilt from a trace's chunks: what a trace from before
// schema 7 holds. The upgrade's test starts from it, and the bench measures it as the baseline.
import Database from 'better-sqlite3';
import { addInsnTables } from '../host/store/insn-tables.js';
import { lowBytes } from '../host/base/little-endian.js';

/** The views of schema 6 over those tables, for querying a trace rewritten by toRowLayout. */
export const ROW_LAYOUT_VIEWS = `
CREATE TEMP VIEW insns AS
SELECT r.seq + i.insn AS seq, r.thread_id, i.address, l.name AS location, i.size, r.seq AS run_seq
FROM insn_runs r JOIN insn_layout_insns i ON i.layout_id = r.layout_id JOIN locations l ON l.id = i.location_id;
CREATE TEMP VIEW reg_writes AS
SELECT w.seq, g.name AS reg, w.value FROM insn_registers g JOIN insn_reg_writes w ON w.reg = g.id;`;

/** Rewrites a schema-7 trace in place into the schema-6 instruction tables, and marks it schema 6. */
export function toRowLayout(path: string): void {
  const db = new Database(path);
  addInsnTables(db);
  // Schema 6 kept every value's bytes: an access of up to 8 bytes reads as an integer now.
  db.function('memory_bytes', { safeIntegers: true }, (value, size) => (typeof value === 'bigint' ? lowBytes(value, Number(size)) : value));
  // The memory rows in seq order, the kernel's first at a seq, as an ingest inserted them.
  db.exec(`
    CREATE TABLE insn_runs (seq INTEGER PRIMARY KEY, thread_id INTEGER NOT NULL, layout_id INTEGER NOT NULL);
    CREATE TABLE insn_reg_writes (reg INTEGER NOT NULL, seq INTEGER NOT NULL, value INTEGER, PRIMARY KEY (reg, seq)) WITHOUT ROWID;
    CREATE TABLE row_mem_accesses (seq INTEGER, access TEXT NOT NULL CHECK (access IN ('r', 'w')), address INTEGER NOT NULL,
      size INTEGER NOT NULL, value BLOB, syscall_id INTEGER REFERENCES syscalls(id));
    INSERT INTO insn_runs SELECT seq, thread_id, layout_id FROM insn_rows WHERE seq = run_seq;
    INSERT INTO insn_reg_writes SELECT g.id, w.seq, w.value FROM reg_writes w JOIN insn_registers g ON g.name = w.reg;
    INSERT INTO row_mem_accesses SELECT seq, access, address, size, memory_bytes(value, size), syscall_id FROM mem_accesses ORDER BY seq;`);
  db.close();
  const plain = new Database(path);
  plain.exec(`
    DROP TABLE insn_chunks; DROP TABLE insn_chunk_reg_writes; DROP TABLE insn_chunk_mem_values; DROP TABLE insn_chunk_regs;
    DROP TABLE insn_chunk_pages; DROP TABLE insn_kernel_writes;
    ALTER TABLE row_mem_accesses RENAME TO mem_accesses;
    CREATE INDEX insn_runs_thread ON insn_runs (thread_id);
    CREATE INDEX insn_reg_writes_value ON insn_reg_writes (value);
    CREATE INDEX mem_accesses_address ON mem_accesses (address, seq);
    CREATE INDEX mem_accesses_seq ON mem_accesses (seq);
    VACUUM;`);
  plain.pragma('user_version = 6');
  plain.close();
}
