import type { Statement } from 'better-sqlite3';
import type { ArchName } from '../schema/layout.generated.js';
import { lowBytes } from '../base/little-endian.js';
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

/**
 * A memory access: 'r' the value before the instruction, 'w' after it, as its bytes in memory
 * order (mem_accesses gives accesses of up to 8 bytes as integers); syscall_id set for what the
 * kernel wrote.
 */
export type MemRow = { seq: bigint | null; access: string; address: bigint; size: bigint; value: Buffer | null; syscall_id: bigint | null };

/** A mem_accesses row's value as the bytes it was in memory. */
function memoryBytes(row: Omit<MemRow, 'value'> & { value: bigint | Buffer | null }): MemRow {
  return typeof row.value === 'bigint' ? { ...row, value: lowBytes(row.value, Number(row.size)) } : row as MemRow;
}

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

type InsnRow = { seq: number; run_seq: number; layout_id: number };
type WriteRow = { seq: bigint; reg: string; value: bigint | Buffer | null };

/** Instructions a thread's walk reads at once: each table is queried (and a chunk decoded) once per this many, not per call. */
const WINDOW = 16384;

/** A thread's instructions from seq `from` to before `until`, with their writes and memory accesses, in seq order. */
interface Window {
  from: number;
  until: number;
  insns: InsnRow[];
  writes: WriteRow[];
  mems: MemRow[];
}

/** Index of the first row with seq >= `seq` in rows sorted by seq. */
function firstAt<T extends { seq: number | bigint | null }>(rows: T[], seq: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const s = rows[mid].seq;
    if (s === null || Number(s) < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A thread's recorded instructions in order, with a model of its registers beside them: the last
 * insnsync, then every write. The one place that reads instructions, writes, memory accesses and
 * syncs together; replay --regs and export -F tenet both walk it. It reads the session's
 * instruction tables (insn_rows, reg_writes, mem_accesses) a window of instructions at a time.
 */
export class InsnWalk {
  readonly registers: RegisterSet;
  private readonly layouts = new Map<number, LayoutInsn[]>();
  private readonly states = new Map<number, { state: RegisterState; at: number }>();
  /** Per thread, the instructions read last: replay asks for a few at a time between events. */
  private readonly windows = new Map<number, Window>();
  private readonly insns: Statement;
  private readonly writes: Statement;
  private readonly mems: Statement;
  private readonly syncs: Statement;
  private readonly syncAt: Statement;
  private readonly insnsOf: Statement;

  constructor(db: TraceDb, readonly arch: ArchName) {
    this.registers = registerSet(arch);
    this.insns = db.prepare(`SELECT seq, run_seq, layout_id FROM insn_rows WHERE thread_id = ? AND seq >= ? ORDER BY seq LIMIT ${WINDOW}`);
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
  private regRow(w: WriteRow): RegRow {
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
    for (const w of this.writes.iterate(tid, from, to) as IterableIterator<WriteRow>) {
      state.write(this.registers.ids.get(w.reg) ?? -1, w.value);
    }
    this.states.set(tid, { state, at: to });
    return state;
  }

  /** The thread's window holding seq `at`: the one read last, or the next WINDOW instructions from `at`. */
  private window(tid: number, at: number): Window {
    const known = this.windows.get(tid);
    if (known && known.from <= at && at < known.until) return known;
    const insns = this.insns.all(tid, at) as InsnRow[];
    const until = insns.length < WINDOW ? Number.MAX_SAFE_INTEGER : insns[insns.length - 1].seq + 1;
    const mems = (this.mems.all(tid, at, until) as Parameters<typeof memoryBytes>[0][]).map(memoryBytes);
    const w = { from: at, until, insns, writes: this.writes.all(tid, at, until) as WriteRow[], mems };
    this.windows.set(tid, w);
    return w;
  }

  /**
   * A thread's instructions with seq in [from, to), each handed out with `state` as it is just
   * before it (a sync at its run's first instruction applied); its writes are applied when the
   * walk moves on.
   */
  *steps(tid: number, from: number, to: number, state: RegisterState): Generator<InsnStep> {
    const end = Number.isFinite(to) ? to : Number.MAX_SAFE_INTEGER;
    for (let at = from; at < end;) {
      const w = this.window(tid, at);
      let write = firstAt(w.writes, at);
      let mem = firstAt(w.mems, at);
      for (let i = firstAt(w.insns, at); i < w.insns.length && w.insns[i].seq < end; i++) {
        const row = w.insns[i];
        const { seq } = row;
        const index = seq - row.run_seq;
        // A sync at the run's first instruction only: the state carries everything before it.
        if (index === 0) {
          const sync = this.syncAt.all(tid, seq) as RegRow[];
          if (sync.length > 0) this.sync(state, sync);
        }
        const written: RegRow[] = [];
        for (; write < w.writes.length && Number(w.writes[write].seq) <= seq; write++) {
          if (Number(w.writes[write].seq) === seq) written.push(this.regRow(w.writes[write]));
        }
        const accessed: MemRow[] = [];
        for (; mem < w.mems.length && Number(w.mems[mem].seq) <= seq; mem++) {
          if (Number(w.mems[mem].seq) === seq) accessed.push(w.mems[mem]);
        }
        yield { seq, layoutId: row.layout_id, index, insn: this.layout(row.layout_id)[index], writes: written, mems: accessed };
        for (const x of written) state.write(Number(x.reg), x.value);
      }
      at = w.until;
    }
    this.states.set(tid, { state, at: end });
  }
}
