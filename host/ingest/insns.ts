import { InsnSyncReason, InsnWhat } from '../schema/layout.generated.js';
import type { MemoryRead } from '../model/memory-read.js';
import type { RegisterSet } from '../model/registers.js';
import { ChunkError } from '../capture/chunks.js';
import type { RecordDecoder } from '../capture/ring-records.js';
import { insnAddresses, MEMORY_ADDRESS_BYTES, readInsnLayout, type InsnEntry, type InsnLayout } from '../capture/insn-records.js';
import type { InsnWriter } from '../store/insn-writer.js';
import type { Locations } from './locations.js';
import { PerThread } from './per-thread.js';
import type { ThreadState } from './threads.js';

/** A layout with what each execution of it adds to the counts. */
interface KnownLayout extends InsnLayout {
  /** The record payload, to tell a layout described again from one described differently. */
  payload: Buffer;
  /**
   * The register entries stored, in instruction order (a chunk's seqs only grow); of two writes of
   * one register by one instruction, the later alone (its value after the instruction).
   */
  regs: InsnEntry[];
  /** The memory entries, in layout order, as a chunk's mems column has them. */
  mems: InsnEntry[];
  unrecordedRegs: number;
  unrecordedMem: number;
}

const REASONS = new Map<number, string>(Object.entries(InsnSyncReason).map(([name, value]) => [value, name]));

/** An address from a syscall argument: a number where exact, SQLite's signed 64-bit integer otherwise. */
const addressOf = (value: bigint): number | bigint => {
  const unsigned = BigInt.asUintN(64, value);
  return unsigned <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(unsigned) : BigInt.asIntN(64, value);
};

/**
 * Instruction records (--events insn): layouts kept and stored once, each execution of a run
 * stored as its values, syncs as the registers they carry. Every instruction gets the trace's
 * next seq. Memory the kernel wrote into a syscall's output buffer is stored as a write by the
 * thread's next instruction, the one after the syscall. An earlier ingest's layouts, seq and
 * waiting kernel writes are taken up where it left them.
 */
export class Insns {
  private readonly layouts = new Map<number, KnownLayout>();
  /** Threads that record instructions: their syscalls' output buffers become memory writes. */
  private readonly recording = new Set<number>();
  /** Per thread, kernel writes (insn_kernel_writes ids) waiting for the thread's next instruction. */
  private readonly pending = new PerThread<number>();
  /** The seq the next instruction gets. */
  seq: number;

  constructor(private readonly writer: InsnWriter, private readonly locations: Locations, private readonly registers: RegisterSet) {
    writer.registers(registers);
    for (const stored of writer.storedLayouts()) {
      const v = new DataView(stored.layout.buffer, stored.layout.byteOffset, stored.layout.byteLength);
      this.keep(readInsnLayout(v, 0, stored.layout.byteLength, stored.id, stored.address, registers), stored.layout);
    }
    this.seq = writer.nextSeq();
    for (const tid of writer.threads()) this.recording.add(tid);
    for (const w of writer.pendingKernelWrites()) this.pending.of(w.threadId).push(w.rowid);
  }

  private keep(layout: InsnLayout, payload: Buffer): KnownLayout {
    const unrecorded = (memory: boolean) => layout.entries.filter((e) => e.unrecorded && (e.what !== InsnWhat.reg) === memory).length;
    const regs = layout.entries.filter((e, i) => e.what === InsnWhat.reg &&
      !layout.entries.some((o, j) => j > i && o.what === InsnWhat.reg && o.insn === e.insn && o.reg === e.reg));
    regs.sort((a, b) => a.insn - b.insn);
    const mems = layout.entries.filter((e) => e.what !== InsnWhat.reg);
    const known = { ...layout, payload, regs, mems, unrecordedRegs: unrecorded(false), unrecordedMem: unrecorded(true) };
    this.layouts.set(layout.id, known);
    return known;
  }

  /** An insnlayout record: a run described before any of its executions. */
  layout(t: ThreadState, r: RecordDecoder): void {
    this.recording.add(t.tid);
    const payload = Buffer.from(r.view.buffer, r.view.byteOffset + r.payloadAt, r.payloadEnd - r.payloadAt);
    const known = this.layouts.get(r.target);
    if (known !== undefined) {
      if (known.address === r.location && known.payload.equals(payload)) return;
      throw new ChunkError(`instruction layout ${r.target} is described twice, differently (slot ${r.slot})`, 0);
    }
    const layout = this.keep(readInsnLayout(r.view, r.payloadAt, r.payloadEnd, r.target, r.location, this.registers), Buffer.from(payload));
    this.writer.layout(layout.id, layout.address, layout.lengths.length, layout.payload);
    insnAddresses(layout).forEach((address, i) => this.writer.layoutInsn(layout.id, i, address, layout.lengths[i], this.locations.id(address)));
  }

  /** An insn record: one execution of a run, its values each at its entry's offset. */
  run(t: ThreadState, r: RecordDecoder): void {
    const layout = this.layouts.get(r.target);
    if (layout === undefined) {
      // A lossy ring may have dropped the layout (counted in lost): its runs are counted as missing, not stored.
      if (t.lost > 0) {
        t.missing++;
        return;
      }
      throw new ChunkError(`the insn record at slot ${r.slot} names instruction layout ${r.target}, which no insnlayout record described`, 0);
    }
    if (r.payloadEnd - r.payloadAt < layout.valuesSize) {
      throw new ChunkError(`the insn record at slot ${r.slot} carries ${r.payloadEnd - r.payloadAt} bytes of values, fewer than the ${layout.valuesSize} of its layout ${layout.id}`, 0);
    }
    this.recording.add(t.tid);
    const seq = this.seq;
    const count = layout.lengths.length;
    const chunk = this.writer.run(seq, t.tid, layout.id, count, layout.mems.length);
    const waiting = this.pending.of(t.tid);
    if (waiting.length > 0) {
      for (const rowid of waiting) this.writer.kernelWritePlaced(rowid, seq);
      waiting.length = 0;
    }
    const v = r.view;
    const base = r.payloadAt;
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    for (const e of layout.regs) {
      const at = base + e.offset;
      // Up to 8 bytes: the 8 bytes the record holds for it; wider: the vector's bytes.
      if (e.unrecorded) chunk.regUnrecorded(seq + e.insn, e.reg);
      else if (e.bytes > 8) chunk.regBytes(seq + e.insn, e.reg, bytes.subarray(at, at + e.bytes));
      else chunk.regInteger(seq + e.insn, e.reg, v.getUint32(at, true), v.getUint32(at + 4, true));
    }
    layout.mems.forEach((e, i) => {
      const at = base + e.offset;
      const value = e.unrecorded ? null : bytes.subarray(at + MEMORY_ADDRESS_BYTES, at + MEMORY_ADDRESS_BYTES + e.bytes);
      chunk.mem(i, e.what === InsnWhat.memWrite, v.getUint32(at, true), v.getUint32(at + 4, true), value);
    });
    this.seq = seq + count;
    t.insns += count;
    t.unrecordedRegs += layout.unrecordedRegs;
    t.unrecordedMem += layout.unrecordedMem;
  }

  /** An insnsync record: every register of the sync list before the thread's next instruction. */
  sync(t: ThreadState, r: RecordDecoder): void {
    this.recording.add(t.tid);
    const sync = this.registers.sync;
    r.payloadHolds(sync.length * 8);
    const values = sync.map((reg, i) => [reg, r.view.getBigInt64(r.payloadAt + i * 8, true)] as [number, bigint]);
    this.writer.sync(this.seq, t.tid, REASONS.get(r.target) ?? `reason ${r.target}`, values);
  }

  /** Writes what is batched: before a commit. */
  flush(): void {
    this.writer.flush();
  }

  /** A syscall returned: what its return captured of output buffers, the kernel wrote. */
  syscallReturned = (tid: number, id: number, args: bigint[], ret: bigint, reads: MemoryRead[]): void => {
    if (!this.recording.has(tid)) return;
    for (const m of reads) {
      if (m.unreadable || m.data.length === 0) continue;
      const address = addressOf(m.arg < 0 ? ret : args[m.arg] ?? 0n);
      this.pending.of(tid).push(this.writer.kernelWrite(null, address, m.data.length, m.data, id));
    }
  };
}
