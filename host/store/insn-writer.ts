import type { Statement } from 'better-sqlite3';
import { INSN_CHUNK_MAX_INSNS } from '../schema/layout.generated.js';
import type { RegisterSet } from '../model/registers.js';
import type { TraceDb } from './database.js';
import { InsnChunk } from './insn-chunk.js';
import { buildFilter } from './insn-value-filter.js';
import { encodeInsnRegs } from './stored-codec.js';

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

/**
 * The instruction tables (schemas/sqlite/0005_insns.sql, 0007_insn_chunks.sql). Each thread's
 * runs, register writes and memory accesses gather in its open chunk (InsnChunk), stored as one
 * insn_chunks row with its index rows when full and at every flush (before a commit): what a
 * commit leaves is complete, and memory holds one chunk per thread at most.
 */
export class InsnWriter {
  private readonly insertRegister: Statement;
  private readonly insertLayout: Statement;
  private readonly insertLayoutInsn: Statement;
  private readonly insertChunk: Statement;
  private readonly insertRegWrites: Statement;
  private readonly insertMemValues: Statement;
  private readonly insertChunkReg: Statement;
  private readonly insertChunkPage: Statement;
  private readonly insertKernelWrite: Statement;
  private readonly placeKernelWrite: Statement;
  private readonly insertSync: Statement;
  private readonly insertSyncValue: Statement;
  private readonly open = new Map<number, InsnChunk>();

  constructor(private readonly db: TraceDb) {
    this.insertRegister = db.prepare('INSERT OR IGNORE INTO insn_registers (id, name, size) VALUES (?, ?, ?)');
    this.insertLayout = db.prepare('INSERT INTO insn_layouts (id, address, insn_count, layout) VALUES (?, ?, ?, ?)');
    this.insertLayoutInsn = db.prepare('INSERT INTO insn_layout_insns (layout_id, insn, address, size, location_id) VALUES (?, ?, ?, ?, ?)');
    this.insertChunk = db.prepare(`INSERT INTO insn_chunks (thread_id, first_seq, last_seq, insns, codec, runs, mems, value_filter)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertRegWrites = db.prepare('INSERT INTO insn_chunk_reg_writes (chunk_id, regs) VALUES (?, ?)');
    this.insertMemValues = db.prepare('INSERT INTO insn_chunk_mem_values (chunk_id, mem_values) VALUES (?, ?)');
    this.insertChunkReg = db.prepare('INSERT INTO insn_chunk_regs (reg, chunk_id, writes) VALUES (?, ?, ?)');
    this.insertChunkPage = db.prepare('INSERT INTO insn_chunk_pages (page, chunk_id, access) VALUES (?, ?, ?)');
    this.insertKernelWrite = db.prepare('INSERT INTO insn_kernel_writes (seq, address, size, value, syscall_id) VALUES (?, ?, ?, ?, ?)');
    this.placeKernelWrite = db.prepare('UPDATE insn_kernel_writes SET seq = ? WHERE id = ?');
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

  /** The seq the next instruction gets: after the last one an earlier ingest stored. */
  nextSeq(): number {
    return this.db.prepare('SELECT coalesce(max(last_seq) + 1, 0) FROM insn_chunks').pluck().get() as number;
  }

  /** Threads an earlier ingest stored instructions or syncs of. */
  threads(): number[] {
    return this.db.prepare('SELECT thread_id FROM insn_syncs_at UNION SELECT DISTINCT thread_id FROM insn_chunks').pluck().all() as number[];
  }

  /** Kernel writes still waiting for the seq of their thread's next instruction. */
  pendingKernelWrites(): PendingKernelWrite[] {
    return this.db.prepare(`SELECT k.id AS rowid, s.thread_id AS threadId FROM insn_kernel_writes k JOIN syscalls s ON s.id = k.syscall_id
      WHERE k.seq IS NULL`).all() as PendingKernelWrite[];
  }

  layout(id: number, address: number, insnCount: number, payload: Buffer): void {
    this.insertLayout.run(id, address, insnCount, payload);
  }

  layoutInsn(layoutId: number, insn: number, address: number, size: number, locationId: number): void {
    this.insertLayoutInsn.run(layoutId, insn, address, size, locationId);
  }

  /**
   * The thread's open chunk, with room for a run of `count` instructions starting at `seq`, which
   * it records; the layout has `memEntries` memory entries, which follow through InsnChunk.mem.
   */
  run(seq: number, threadId: number, layoutId: number, count: number, memEntries: number): InsnChunk {
    let chunk = this.open.get(threadId);
    if (chunk !== undefined && chunk.insns + count > INSN_CHUNK_MAX_INSNS) {
      this.store(chunk);
      chunk = undefined;
    }
    if (chunk === undefined) this.open.set(threadId, (chunk = new InsnChunk(threadId)));
    chunk.run(seq, layoutId, count, memEntries);
    return chunk;
  }

  /** What the kernel wrote during a syscall; seq null until the thread's next instruction is stored. Returns its row id. */
  kernelWrite(seq: number | null, address: number | bigint, size: number, value: Buffer, syscallId: number): number {
    return Number(this.insertKernelWrite.run(seq, address, size, value, syscallId).lastInsertRowid);
  }

  kernelWritePlaced(rowid: number, seq: number): void {
    this.placeKernelWrite.run(seq, rowid);
  }

  sync(seq: number, threadId: number, reason: string, values: [reg: number, value: bigint][]): void {
    this.insertSync.run(seq, threadId, reason);
    for (const [reg, value] of values) this.insertSyncValue.run(seq, threadId, reg, value);
  }

  /** Stores every open chunk. */
  flush(): void {
    for (const chunk of this.open.values()) this.store(chunk);
    this.open.clear();
  }

  private store(chunk: InsnChunk): void {
    this.open.delete(chunk.threadId);
    if (chunk.insns === 0) return;
    const { codec, data: regs } = encodeInsnRegs(chunk.regs.data());
    const id = Number(this.insertChunk.run(chunk.threadId, chunk.firstSeq, chunk.lastSeq, chunk.insns, codec, chunk.runs.data(), chunk.mems.data(),
      buildFilter(chunk.hashes, chunk.hashCount)).lastInsertRowid);
    this.insertRegWrites.run(id, regs);
    this.insertMemValues.run(id, chunk.memValues.data());
    chunk.regCounts.forEach((writes, reg) => {
      if (writes !== 0) this.insertChunkReg.run(reg, id, writes);
    });
    for (const [page, access] of chunk.pages) this.insertChunkPage.run(page, id, access);
  }
}
