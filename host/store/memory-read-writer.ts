import type { Statement } from 'better-sqlite3';
import type { MemoryRead } from '../model/memory-read.js';
import type { TraceDb } from './database.js';

/** Memory reads of syscalls or library calls: syscall_memory and api_memory have the same columns. */
export class MemoryReadWriter {
  private readonly insert: Statement;

  constructor(db: TraceDb, table: 'syscall_memory' | 'api_memory', idColumn: 'syscall_id' | 'call_id') {
    this.insert = db.prepare(`INSERT INTO ${table} (${idColumn}, position, at_return, text, data, truncated, unreadable)
      VALUES (?, ?, ?, ?, ?, ?, ?)`);
  }

  /** What call `id` read at its entry, or at its return. */
  write(id: number, atReturn: boolean, reads: MemoryRead[]): void {
    for (const r of reads) this.insert.run(id, r.arg, atReturn ? 1 : 0, r.text, r.data, r.truncated ? 1 : 0, r.unreadable ? 1 : 0);
  }
}
