import type { Statement } from 'better-sqlite3';
import type { ArchName } from '../schema/layout.generated.js';
import { registerSet, type RegisterSet } from '../model/registers.js';
import { RegisterState } from '../model/register-state.js';
import type { TraceDb } from '../store/database.js';
import { readInsnLayout } from '../capture/insn-records.js';
import { InsnWhat } from '../schema/layout.generated.js';

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
export type MemRow = { seq: bigint; access: string; address: bigint; size: bigint; value: Buffer | null; syscall_id: bigint | null };

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

/**
 * A thread's recorded instructions in order, with a model of its registers beside them: the last
 * insnsync, then every write. The one place that reads runs, layouts, writes, memory accesses and
 * syncs together; replay --regs and export -F tenet both walk it.
 */
export class InsnWalk {
  readonly registers: RegisterSet;
  private readonly layouts = new Map<number, LayoutInsn[]>();
  /** Per layout, the registers its instructions write, in id order: where its runs' writes are. */
  private readonly written = new Map<number, number[]>();
  private readonly states = new Map<number, { state: RegisterState; at: number }>();
  private readonly runs: Statement;
  private readonly writes: Statement;
  private readonly mems: Statement;
  private readonly syncs: Statement;
  private readonly syncAt: Statement;
  private readonly insnsOf: Statement;
  private readonly layoutOf: Statement;

  constructor(db: TraceDb, readonly arch: ArchName) {
    this.registers = registerSet(arch);
    this.runs = db.prepare('SELECT seq, layout_id FROM insn_runs WHERE thread_id = ? AND seq >= ? AND seq < ? ORDER BY seq');
    this.writes = db.prepare('SELECT seq, reg, value FROM insn_reg_writes WHERE reg = ? AND seq >= ? AND seq < ?').safeIntegers();
    this.mems = db.prepare('SELECT seq, access, address, size, value, syscall_id FROM mem_accesses WHERE seq >= ? AND seq < ? ORDER BY seq, rowid').safeIntegers();
    this.syncs = db.prepare(`SELECT seq, reg, value FROM insn_sync_values WHERE thread_id = @tid
      AND seq = (SELECT max(seq) FROM insn_syncs_at WHERE thread_id = @tid AND seq <= @seq)`).safeIntegers();
    this.syncAt = db.prepare('SELECT seq, reg, value FROM insn_sync_values WHERE thread_id = ? AND seq = ?').safeIntegers();
    this.insnsOf = db.prepare(`SELECT i.address, i.size, l.offset, m.name AS module FROM insn_layout_insns i JOIN locations l ON l.id = i.location_id
      LEFT JOIN modules m ON m.id = l.module_id WHERE i.layout_id = ? ORDER BY i.insn`);
    this.layoutOf = db.prepare('SELECT address, layout FROM insn_layouts WHERE id = ?');
  }

  /** Whether the trace holds instruction records at all. */
  static present(db: TraceDb): boolean {
    return db.prepare('SELECT 1 FROM insn_runs LIMIT 1').get() !== undefined;
  }

  /** The threads with instruction records, in id order. */
  static threads(db: TraceDb): number[] {
    return db.prepare('SELECT DISTINCT thread_id FROM insn_runs ORDER BY thread_id').pluck().all() as number[];
  }

  /** A layout's instructions, in run order. */
  layout(id: number): LayoutInsn[] {
    let insns = this.layouts.get(id);
    if (!insns) this.layouts.set(id, (insns = this.insnsOf.all(id) as LayoutInsn[]));
    return insns;
  }

  /** The register writes of a run of layout `layoutId` with seq in [from, to), in seq order (then register id). */
  private writesOf(layoutId: number, from: number, to: number): RegRow[] {
    let regs = this.written.get(layoutId);
    if (!regs) {
      const stored = this.layoutOf.get(layoutId) as { address: number; layout: Buffer } | undefined;
      const entries = stored ? readInsnLayout(new DataView(stored.layout.buffer, stored.layout.byteOffset, stored.layout.byteLength), 0,
        stored.layout.byteLength, layoutId, stored.address, this.registers).entries : [];
      regs = [...new Set(entries.filter((e) => e.what === InsnWhat.reg).map((e) => e.reg))].sort((a, b) => a - b);
      this.written.set(layoutId, regs);
    }
    const rows: RegRow[] = [];
    for (const reg of regs) for (const w of this.writes.all(reg, from, to) as RegRow[]) rows.push(w);
    return rows.sort((a, b) => Number(a.seq - b.seq) || Number(a.reg - b.reg));
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
    for (const run of this.runs.all(tid, from, to) as { seq: number; layout_id: number }[]) {
      for (const w of this.writesOf(run.layout_id, run.seq, Math.min(to, run.seq + this.layout(run.layout_id).length))) state.write(Number(w.reg), w.value);
    }
    this.states.set(tid, { state, at: to });
    return state;
  }

  /**
   * A thread's instructions with seq in [from, to), each handed out with `state` as it is just
   * before it (a sync at it applied); its writes are applied when the walk moves on.
   */
  *steps(tid: number, from: number, to: number, state: RegisterState): Generator<InsnStep> {
    const end = Number.isFinite(to) ? to : Number.MAX_SAFE_INTEGER;
    for (const run of this.runs.all(tid, from, end) as { seq: number; layout_id: number }[]) {
      const insns = this.layout(run.layout_id);
      const last = run.seq + insns.length;
      const writes = this.writesOf(run.layout_id, run.seq, last);
      const mems = this.mems.all(run.seq, last) as MemRow[];
      // A sync at the run's first instruction only: the state carries everything before it.
      const sync = this.syncAt.all(tid, run.seq) as RegRow[];
      if (sync.length > 0) this.sync(state, sync);
      for (const [index, insn] of insns.entries()) {
        const seq = run.seq + index;
        const written = writes.filter((w) => Number(w.seq) === seq);
        yield { seq, layoutId: run.layout_id, index, insn, writes: written, mems: mems.filter((m) => Number(m.seq) === seq) };
        for (const w of written) state.write(Number(w.reg), w.value);
      }
    }
    this.states.set(tid, { state, at: end });
  }
}
