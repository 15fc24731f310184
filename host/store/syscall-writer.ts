import type { Statement } from 'better-sqlite3';
import type { MemoryRead } from '../model/memory-read.js';
import { nextId, type TraceDb } from './database.js';
import { MemoryReadWriter } from './memory-read-writer.js';

/** A syscall stored without its return yet. */
export interface OpenSyscallRow {
  id: number;
  threadId: number;
  nr: number;
  args: bigint[];
}

/** The syscalls table and the memory syscalls read (syscall_memory). */
export class SyscallWriter {
  private readonly insert: Statement;
  private readonly returned: Statement;
  private readonly memory: MemoryReadWriter;
  private nextId: number;

  constructor(private readonly db: TraceDb) {
    this.insert = db.prepare(`INSERT INTO syscalls (id, thread_id, seq, location_id, nr, arg0, arg1, arg2, arg3, arg4, arg5, time_ns)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.returned = db.prepare('UPDATE syscalls SET ret = ?, ret_seq = ? WHERE id = ?');
    this.memory = new MemoryReadWriter(db, 'syscall_memory', 'syscall_id');
    this.nextId = nextId(db, 'syscalls');
  }

  /** Syscalls an earlier ingest stored whose return it did not see, in the order they were made. */
  open(): OpenSyscallRow[] {
    const rows = this.db.prepare('SELECT id, thread_id, nr, arg0, arg1, arg2, arg3, arg4, arg5 FROM syscalls WHERE ret IS NULL ORDER BY seq')
      .safeIntegers().all() as Record<string, bigint>[];
    return rows.map((r) => ({ id: Number(r.id), threadId: Number(r.thread_id), nr: Number(r.nr), args: [r.arg0, r.arg1, r.arg2, r.arg3, r.arg4, r.arg5] }));
  }

  /** Stores a syscall as made (`timeNs` null before capture format 3); returns its id. */
  call(threadId: number, seq: number, locationId: number, nr: number, args: bigint[], timeNs: bigint | null, memory: MemoryRead[]): number {
    const id = this.nextId++;
    this.insert.run(id, threadId, seq, locationId, nr, ...args, timeNs);
    this.memory.write(id, false, memory);
    return id;
  }

  ret(id: number, seq: number, ret: bigint, memory: MemoryRead[]): void {
    this.returned.run(ret, seq, id);
    this.memory.write(id, true, memory);
  }
}
