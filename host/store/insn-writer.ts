import type { Statement } from 'better-sqlite3';
import type { RegisterSet } from '../model/registers.js';
import type { TraceDb } from './database.js';

/** A layout an earlier ingest stored: its record payload, read again to decode its runs. */
export interface StoredLayout {
  id: number;
  address: number;
  layout: Buffer;
}

/** A kernel write stored before the instruction after its syscall was. */
export interface PendingKernelWrite {
  rowid: number;
  threadId: number;
}

export type IntegerOrBytes = number | bigint | Buffer;

/** Rows a batched INSERT carries: one statement execution per this many register writes or accesses. */
const BATCH_ROWS = 128;

/**
 * Rows of one table gathered as flat parameters and inserted BATCH_ROWS at a time by one
 * multi-row INSERT (statement executions, not rows, are what ingest pays for most); the rest by
 * the single-row form when flushed.
 */
class BatchedInsert {
  private readonly many: Statement;
  private readonly one: Statement;
  private readonly params: unknown[] = [];
  private readonly width: number;

  constructor(db: TraceDb, head: string, width: number) {
    const row = `(${Array(width).fill('?').join(', ')})`;
    this.many = db.prepare(`${head} VALUES ${Array(BATCH_ROWS).fill(row).join(', ')}`);
    this.one = db.prepare(`${head} VALUES ${row}`);
    this.width = width;
  }

  add(...row: unknown[]): void {
    const p = this.params;
    for (const v of row) p.push(v);
    if (p.length === BATCH_ROWS * this.width) {
      this.many.run(p);
      p.length = 0;
    }
  }

  flush(): void {
    const p = this.params;
    for (let at = 0; at < p.length; at += this.width) this.one.run(p.slice(at, at + this.width));
    p.length = 0;
  }
}

/**
 * The instruction tables (schemas/sqlite/0005_insns.sql). Each statement is prepared once and run
 * inside the ingest's transaction, which commits as the ingest driver's policy says; runs,
 * register writes and the instructions' own memory accesses are batched until flush().
 */
export class InsnWriter {
  private readonly insertRegister: Statement;
  private readonly insertLayout: Statement;
  private readonly insertLayoutInsn: Statement;
  private readonly insertRun: BatchedInsert;
  private readonly insertRegWrite: BatchedInsert;
  private readonly insertAccess: BatchedInsert;
  private readonly insertMem: Statement;
  private readonly placeKernelWrite: Statement;
  private readonly insertSync: Statement;
  private readonly insertSyncValue: Statement;

  constructor(private readonly db: TraceDb) {
    this.insertRegister = db.prepare('INSERT OR IGNORE INTO insn_registers (id, name, size) VALUES (?, ?, ?)');
    this.insertLayout = db.prepare('INSERT INTO insn_layouts (id, address, insn_count, layout) VALUES (?, ?, ?, ?)');
    this.insertLayoutInsn = db.prepare('INSERT INTO insn_layout_insns (layout_id, insn, address, size, location_id) VALUES (?, ?, ?, ?, ?)');
    this.insertRun = new BatchedInsert(db, 'INSERT INTO insn_runs (seq, thread_id, layout_id)', 3);
    // OR REPLACE: an instruction that names one register twice keeps the value written last.
    this.insertRegWrite = new BatchedInsert(db, 'INSERT OR REPLACE INTO insn_reg_writes (reg, seq, value)', 3);
    this.insertAccess = new BatchedInsert(db, 'INSERT INTO mem_accesses (seq, access, address, size, value)', 5);
    this.insertMem = db.prepare('INSERT INTO mem_accesses (seq, access, address, size, value, syscall_id) VALUES (?, ?, ?, ?, ?, ?)');
    this.placeKernelWrite = db.prepare('UPDATE mem_accesses SET seq = ? WHERE rowid = ?');
    this.insertSync = db.prepare('INSERT OR REPLACE INTO insn_syncs_at (seq, thread_id, reason) VALUES (?, ?, ?)');
    this.insertSyncValue = db.prepare('INSERT OR REPLACE INTO insn_sync_values (seq, thread_id, reg, value) VALUES (?, ?, ?, ?)');
  }

  /** Names the arch's register ids, once per trace. */
  registers(set: RegisterSet): void {
    set.names.forEach((name, id) => {
      if (name !== undefined) this.insertRegister.run(id, name, set.sizes[id]);
    });
  }

  /** Layouts an earlier ingest stored. */
  storedLayouts(): Iterable<StoredLayout> {
    return this.db.prepare('SELECT id, address, layout FROM insn_layouts').iterate() as Iterable<StoredLayout>;
  }

  /** The seq the next instruction gets: after the last run an earlier ingest stored. */
  nextSeq(): number {
    return (this.db.prepare(`SELECT r.seq + l.insn_count FROM insn_runs r JOIN insn_layouts l ON l.id = r.layout_id
      ORDER BY r.seq DESC LIMIT 1`).pluck().get() as number | undefined) ?? 0;
  }

  /** Threads an earlier ingest stored instructions or syncs of. */
  threads(): number[] {
    return this.db.prepare('SELECT thread_id FROM insn_syncs_at UNION SELECT DISTINCT thread_id FROM insn_runs').pluck().all() as number[];
  }

  /** Kernel writes still waiting for the seq of their thread's next instruction. */
  pendingKernelWrites(): PendingKernelWrite[] {
    return this.db.prepare(`SELECT m.rowid, s.thread_id AS threadId FROM mem_accesses m JOIN syscalls s ON s.id = m.syscall_id
      WHERE m.seq IS NULL`).all() as PendingKernelWrite[];
  }

  layout(id: number, address: number, insnCount: number, payload: Buffer): void {
    this.insertLayout.run(id, address, insnCount, payload);
  }

  layoutInsn(layoutId: number, insn: number, address: number, size: number, locationId: number): void {
    this.insertLayoutInsn.run(layoutId, insn, address, size, locationId);
  }

  run(seq: number, threadId: number, layoutId: number): void {
    this.insertRun.add(seq, threadId, layoutId);
  }

  /** A JavaScript number binds as REAL; the column's INTEGER affinity stores it as the integer it is. */
  regWrite(seq: number, reg: number, value: IntegerOrBytes | null): void {
    this.insertRegWrite.add(reg, seq, value);
  }

  /** A memory access an instruction made. */
  access(seq: number, access: 'r' | 'w', address: number | bigint, size: number, value: Buffer | null): void {
    this.insertAccess.add(seq, access, address, size, value);
  }

  /** What the kernel wrote during a syscall; seq null until the thread's next instruction is stored. Returns its rowid. */
  kernelWrite(seq: number | null, address: number | bigint, size: number, value: Buffer, syscallId: number): number {
    return Number(this.insertMem.run(seq, 'w', address, size, value, syscallId).lastInsertRowid);
  }

  /** Inserts the rows still batched. */
  flush(): void {
    this.insertRun.flush();
    this.insertRegWrite.flush();
    this.insertAccess.flush();
  }

  kernelWritePlaced(rowid: number, seq: number): void {
    this.placeKernelWrite.run(seq, rowid);
  }

  sync(seq: number, threadId: number, reason: string, values: [reg: number, value: bigint][]): void {
    this.insertSync.run(seq, threadId, reason);
    for (const [reg, value] of values) this.insertSyncValue.run(seq, threadId, reg, value);
  }
}
