import type { Statement } from 'better-sqlite3';
import type { ArchName } from '../schema/layout.generated.js';
import { registerSet, type RegisterSet } from '../model/registers.js';
import { RegisterState } from '../model/register-state.js';
import type { TraceDb } from '../store/database.js';

/** One instruction of a run's layout, as insn_layout_insns names it. */
export interface LayoutInsn {
  address: number;
  size: number;
  /** Offset in its module; null outside every module. */
  offset: number | null;
  module: string | null;
}

/** A register value an instruction's record carried (or a sync): integer, vector bytes, or null when not recorded. */
export type RegRow = { seq: bigint; reg: bigint; value: bigint | Buffer | null };

/** A memory access: 'r' the value before the instruction, 'w' after it; syscall_id set for what the kernel wrote. */
export type MemRow = { seq: bigint | null; access: string; address: bigint; size: bigint; value: Buffer | null; syscall_id: bigint | null };

/** One recorded instruction of a thread, as the walk hands it out. */
export interface InsnStep {
  seq: number;
  layoutId: number;
  /** Its index in the run. */
  index: number;
  insn: LayoutInsn;
  /** Registers it wrote, with their values after it. */
  writes: (RegRow & { value: bigint | Buffer | null })[];
  /** Its memory accesses, in recorded order (the kernel's writes of a syscall with the instruction they belong to). */
  mems: MemRow[];
}

/** An iterator whose next row can be looked at before it is taken. */
class Peek<T> {
  private row: IteratorResult<T>;

  constructor(private readonly rows: IterableIterator<T>) {
    this.row = rows.next();
  }

  /** Takes the rows for which `wanted` holds, from the front; rows before them, `skip` says, are passed over. */
  take(wanted: (row: T) => boolean, skip: (row: T) => boolean): T[] {
    const out: T[] = [];
    while (!this.row.done && (skip(this.row.value) || wanted(this.row.value))) {
      if (!skip(this.row.value)) out.push(this.row.value);
      this.row = this.rows.next();
    }
    return out;
  }

  close(): void {
    this.rows.return?.();
  }
}

/**
 * A thread's recorded instructions in order, with a model of its registers beside them: the last
 * insnsync, then every write. The one place that reads instructions, writes, memory accesses and
 * syncs together; replay --regs and export -F tenet both walk it. It reads the session's
 * instruction tables (insn_rows, reg_writes, mem_accesses), each scan once in seq order.
 */
export class InsnWalk {
  readonly registers: RegisterSet;
  private readonly layouts = new Map<number, LayoutInsn[]>();
  private readonly states = new Map<number, { state: RegisterState; at: number }>();
  private readonly insns: Statement;
  private readonly writes: Statement;
  private readonly mems: Statement;
  private readonly syncs: Statement;
  private readonly syncAt: Statement;
  private readonly insnsOf: Statement;

  constructor(db: TraceDb, readonly arch: ArchName) {
    this.registers = registerSet(arch);
    this.insns = db.prepare('SELECT seq, run_seq, layout_id FROM insn_rows WHERE thread_id = ? AND seq >= ? AND seq < ? ORDER BY seq');
    this.writes = db.prepare('SELECT seq, reg, value FROM reg_writes WHERE thread_id = ? AND seq >= ? AND seq < ? ORDER BY seq').safeIntegers();
    this.mems = db.prepare(`SELECT seq, access, address, size, value, syscall_id FROM mem_accesses WHERE thread_id = ? AND seq >= ? AND seq < ?
      ORDER BY seq`).safeIntegers();
    this.syncs = db.prepare(`SELECT seq, reg, value FROM insn_sync_values WHERE thread_id = @tid
      AND seq = (SELECT max(seq) FROM insn_syncs_at WHERE thread_id = @tid AND seq <= @seq)`).safeIntegers();
    this.syncAt = db.prepare('SELECT seq, reg, value FROM insn_sync_values WHERE thread_id = ? AND seq = ?').safeIntegers();
    this.insnsOf = db.prepare(`SELECT i.address, i.size, l.offset, m.name AS module FROM insn_layout_insns i JOIN locations l ON l.id = i.location_id
      LEFT JOIN modules m ON m.id = l.module_id WHERE i.layout_id = ? ORDER BY i.insn`);
  }

  /** Whether the trace holds instruction records at all. */
  static present(db: TraceDb): boolean {
    return db.prepare('SELECT 1 FROM insn_chunks LIMIT 1').get() !== undefined;
  }

  /** The threads with instruction records, in id order. */
  static threads(db: TraceDb): number[] {
    return db.prepare('SELECT DISTINCT thread_id FROM insn_chunks ORDER BY thread_id').pluck().all() as number[];
  }

  /** A layout's instructions, in run order. */
  layout(id: number): LayoutInsn[] {
    let insns = this.layouts.get(id);
    if (!insns) this.layouts.set(id, (insns = this.insnsOf.all(id) as LayoutInsn[]));
    return insns;
  }

  /** A reg_writes row with its register by id, as the register model knows it. */
  private regRow(w: { seq: bigint; reg: string; value: bigint | Buffer | null }): RegRow {
    return { seq: w.seq, reg: BigInt(this.registers.ids.get(w.reg) ?? -1), value: w.value };
  }

  /** A thread's register state just before instruction `seq`: from its last sync, then the writes after it. */
  stateAt(tid: number, seq: number): RegisterState {
    const known = this.states.get(tid);
    if (known && known.at <= seq) return this.advance(tid, known.state, known.at, seq);
    const state = new RegisterState(this.registers);
    const rows = this.syncs.all({ tid, seq }) as RegRow[];
    this.sync(state, rows);
    return this.advance(tid, state, rows.length === 0 ? 0 : Number(rows[0].seq), seq);
  }

  private sync(state: RegisterState, rows: RegRow[]): void {
    state.sync(this.registers.sync.map((id) => rows.find((r) => Number(r.reg) === id)?.value as bigint | undefined));
  }

  /** Applies a thread's writes between two seqs, reading nothing else. */
  private advance(tid: number, state: RegisterState, from: number, to: number): RegisterState {
    for (const w of this.writes.iterate(tid, from, to) as IterableIterator<{ seq: bigint; reg: string; value: bigint | Buffer | null }>) {
      state.write(this.registers.ids.get(w.reg) ?? -1, w.value);
    }
    this.states.set(tid, { state, at: to });
    return state;
  }

  /**
   * A thread's instructions with seq in [from, to), each handed out with `state` as it is just
   * before it (a sync at its run's first instruction applied); its writes are applied when the
   * walk moves on.
   */
  *steps(tid: number, from: number, to: number, state: RegisterState): Generator<InsnStep> {
    const end = Number.isFinite(to) ? to : Number.MAX_SAFE_INTEGER;
    const writes = new Peek(this.writes.iterate(tid, from, end) as IterableIterator<{ seq: bigint; reg: string; value: bigint | Buffer | null }>);
    const mems = new Peek(this.mems.iterate(tid, from, end) as IterableIterator<MemRow>);
    try {
      for (const row of this.insns.iterate(tid, from, end) as IterableIterator<{ seq: number; run_seq: number; layout_id: number }>) {
        const { seq } = row;
        const index = seq - row.run_seq;
        // A sync at the run's first instruction only: the state carries everything before it.
        if (index === 0) {
          const sync = this.syncAt.all(tid, seq) as RegRow[];
          if (sync.length > 0) this.sync(state, sync);
        }
        const at = BigInt(seq);
        const written = writes.take((w) => w.seq === at, (w) => w.seq < at).map((w) => this.regRow(w));
        const accessed = mems.take((m) => m.seq === at, (m) => m.seq === null || m.seq < at);
        yield { seq, layoutId: row.layout_id, index, insn: this.layout(row.layout_id)[index], writes: written, mems: accessed };
        for (const w of written) state.write(Number(w.reg), w.value);
      }
    } finally {
      writes.close();
      mems.close();
    }
    this.states.set(tid, { state, at: end });
  }
}
