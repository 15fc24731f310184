import type { TraceDb } from './database.js';
import { loadStoreExtension } from './extension.js';
import { mayHold } from './insn-value-filter.js';
import { decodeRecords } from './stored-codec.js';

/**
 * Adds the insn_rows, reg_writes and mem_accesses virtual tables (insn-tables.c) to a connection,
 * with the functions they decompress a chunk's column and test its value filter through.
 * Nothing is written to the trace.
 */
export function addInsnTables(db: TraceDb): void {
  db.function('stalk_insn_column', { safeIntegers: false, directOnly: true },
    (codec, data, id) => decodeRecords(codec as number, data as Buffer, `instruction chunk ${id as number}`));
  // Values as SQLite has them: a 64-bit integer exactly.
  db.function('stalk_insn_may_hold', { safeIntegers: true, directOnly: true }, (filter, value) => (mayHold(filter as Buffer, value) ? 1 : 0));
  loadStoreExtension(db, 'insn-tables');
  // A scan of every chunk's memory values reads megabytes of overflow pages: mapped, they are not
  // copied page by page through SQLite's small cache (about half the time of the address queries).
  db.pragma('mmap_size = 2147418112');
}
