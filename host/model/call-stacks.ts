import { Kind } from '../schema/layout.generated.js';
import type { ChunkEvents } from './chunk-events.js';

/** Counts since the last flush for one function of one thread; frames hold on to it. */
export interface FunctionAggregate {
  calls: number;
  self: number;
  total: number;
  /** Activations on the stack now, so a recursive function's total counts its outermost one only. */
  active: number;
}

export interface EdgeAggregate {
  calls: number;
  total: number;
}

/** An open frame as it is stored between ingests. */
export interface StackFrameState {
  functionId: number;
  callerId: number;
  /** Where the call returns to: a return to this address closes the frame. */
  returnAddress: number;
  /** The stack pointer at the call instruction; null where the capture does not say. */
  sp: number | null;
  entryCost: number;
  childCost: number;
}

/** One chunk's records as the call stacks read them, a typed array per field (the capture's decoded columns). */
export interface CallRecords {
  /** A return's target: the address it returns to. */
  readonly targets: Float64Array;
  /** A call's stack pointer, NaN where the capture does not say. */
  readonly sps: Float64Array;
  /** Where a call returns to. */
  readonly returnAddresses: Float64Array;
}

/** What one call or close added to a function's and an edge's aggregates. */
interface JournalEntry {
  stats: FunctionAggregate;
  edge: EdgeAggregate;
  calls: number;
  self: number;
  total: number;
}

/** The first repeat entry at or after `from`, or -1. */
function nextRepeat(kinds: Uint8Array, from: number, count: number): number {
  return kinds.subarray(0, count).indexOf(Kind.repeat, from);
}

/**
 * A call from further up the stack than this is taken for a switch to another stack (a signal
 * handler on its alternate stack, a coroutine), not an unwind: it closes nothing. One thread's
 * stack is far smaller (8 MiB by default).
 */
const STACK_SWITCH_BYTES = 1 << 30;

/**
 * One thread's shadow stack and the function and call-edge aggregates it yields. A return closes
 * the frame whose call returns to the same address, and any frames above it (calls into code
 * that was not followed, whose returns were never seen). A call closes every open frame whose
 * own call was made from a stack pointer at or above its own: those frames cannot be live any
 * more (a longjmp, an exception or a signal handler's return unwound past them), so calls made
 * from one frame always get one depth. Depth is the number of frames open. Cost is whatever the
 * trace counts (instructions, blocks or calls): the thread's running count is passed in.
 */
export class CallStacks {
  readonly functions = new Map<number, FunctionAggregate>();
  readonly edges = new Map<number, Map<number, EdgeAggregate>>();
  // The open frames from the bottom, a field per array, so that a call allocates nothing. Slots
  // above the top keep the frame that last stood there: a call like it takes its aggregates.
  private size = 0;
  private functionId = new Float64Array(64);
  private callerId = new Float64Array(64);
  private returnAddress = new Float64Array(64);
  /** NaN where the capture does not say. */
  private sp = new Float64Array(64);
  private entryCost = new Float64Array(64);
  private childCost = new Float64Array(64);
  private readonly stats: FunctionAggregate[] = [];
  private readonly edge: EdgeAggregate[] = [];
  /** The running cost while a chunk is paired. */
  private cost = 0;
  // What one run of a repeated group added, while `journaling`: frames it opened and closed, the
  // stack's size when it began, whether it closed a frame open before it, the cost when it began,
  // and the cost it passed to the frame below it.
  private journaling = false;
  private readonly journal: JournalEntry[] = [];
  private journalFloor = 0;
  private journalBroken = false;
  private journalCost = 0;
  private journalChildCost = 0;

  private statsOf(functionId: number): FunctionAggregate {
    let s = this.functions.get(functionId);
    if (!s) this.functions.set(functionId, (s = { calls: 0, self: 0, total: 0, active: 0 }));
    return s;
  }

  private edgeOf(callerId: number, calleeId: number): EdgeAggregate {
    let out = this.edges.get(callerId);
    if (!out) this.edges.set(callerId, (out = new Map()));
    let e = out.get(calleeId);
    if (!e) out.set(calleeId, (e = { calls: 0, total: 0 }));
    return e;
  }

  /** Restores a frame left open by an earlier ingest. */
  restore(state: StackFrameState): void {
    const at = this.push(state.functionId, state.returnAddress, state.sp ?? NaN, state.entryCost);
    this.callerId[at] = state.callerId;
    this.stats[at] = this.statsOf(state.functionId);
    this.edge[at] = this.edgeOf(state.callerId, state.functionId);
    this.childCost[at] = state.childCost;
    this.stats[at].active++;
  }

  /** The open frames from the bottom, as they are stored. */
  open(): StackFrameState[] {
    return Array.from({ length: this.size }, (_, i) => ({
      functionId: this.functionId[i], callerId: this.callerId[i], returnAddress: this.returnAddress[i],
      sp: Number.isNaN(this.sp[i]) ? null : this.sp[i], entryCost: this.entryCost[i], childCost: this.childCost[i],
    }));
  }

  /**
   * Pairs one chunk's calls and returns, in order, and gives each of its events its depth; a
   * call's value is its callee. Records of the cost's kind count one each. Returns the cost
   * after the chunk. A repeat entry's group runs once more for each copy until a run leaves the
   * stack as it found it; every later copy would run the same, so its aggregates are added that
   * many times over, and the copies before it keep their own depths in `events`.
   */
  pair(events: ChunkEvents, records: CallRecords, costKind: number, cost: number): number {
    const { kinds, depths, locationIds, count } = events;
    this.cost = cost;
    let repeat = nextRepeat(kinds, 0, count);
    let groupStart = repeat < 0 ? -1 : repeat - locationIds[repeat];
    for (let i = 0; i < count; i++) {
      if (i === groupStart) this.startJournal();
      if (i === repeat) {
        this.repeat(events, records, i, costKind);
        depths[i] = 0;
        repeat = nextRepeat(kinds, i + 1, count);
        groupStart = repeat < 0 ? -1 : repeat - locationIds[repeat];
        continue;
      }
      depths[i] = this.step(events, records, i, costKind);
    }
    return this.cost;
  }

  /** Entry `i`'s effect on the stack and the cost; returns its depth. */
  private step(events: ChunkEvents, records: CallRecords, i: number, costKind: number): number {
    const kind = events.kinds[i];
    if (kind === Kind.call) {
      // A call first closes what it shows was unwound, so its own cost is not theirs. Where
      // either stack pointer is unknown (NaN) the comparisons are false.
      const sp = records.sps[i];
      while (this.size > 0 && sp >= this.sp[this.size - 1] && sp - this.sp[this.size - 1] < STACK_SWITCH_BYTES) this.close(this.cost);
      if (kind === costKind) this.cost++;
      return this.call(events.values[i], records.returnAddresses[i], sp, this.cost);
    }
    if (kind === costKind) this.cost++;
    return kind === Kind.ret ? this.ret(records.targets[i], this.cost) : this.size;
  }

  /** Repeat entry `r`, once its group has run (journaled). */
  private repeat(events: ChunkEvents, records: CallRecords, r: number, costKind: number): void {
    const span = events.locationIds[r];
    const times = events.values[r];
    let apart = 0;
    events.copyDepthsAt[r] = events.copyDepthsUsed;
    while (apart < times && !this.periodic()) {
      this.startJournal();
      const at = events.reserveCopyDepths(span);
      for (let k = 0; k < span; k++) events.copyDepths[at + k] = this.step(events, records, r - span + k, costKind);
      apart++;
    }
    this.journaling = false;
    events.copiesApart[r] = apart;
    const rest = times - apart;
    if (rest === 0) return;
    const j = this.journal;
    for (let k = 0; k < j.length; k++) {
      const e = j[k];
      e.stats.calls += e.calls * rest;
      e.edge.calls += e.calls * rest;
      e.stats.self += e.self * rest;
      e.stats.total += e.total * rest;
      e.edge.total += e.total * rest;
    }
    if (this.journalFloor > 0) this.childCost[this.journalFloor - 1] += this.journalChildCost * rest;
    this.cost += (this.cost - this.journalCost) * rest;
  }

  /** Whether the run journaled since startJournal() left the stack as it found it: then each run after it does the same. */
  private periodic(): boolean {
    return !this.journalBroken && this.size === this.journalFloor;
  }

  private startJournal(): void {
    this.journaling = true;
    this.journal.length = 0;
    this.journalFloor = this.size;
    this.journalBroken = false;
    this.journalCost = this.cost;
    this.journalChildCost = 0;
  }

  /** Opens a frame; returns the call's depth. */
  private call(functionId: number, returnAddress: number, sp: number, cost: number): number {
    const at = this.size;
    const callerId = at > 0 ? this.functionId[at - 1] : 0;
    const known = at < this.stats.length && this.functionId[at] === functionId && this.callerId[at] === callerId;
    this.push(functionId, returnAddress, sp, cost);
    if (!known) {
      this.callerId[at] = callerId;
      this.stats[at] = this.statsOf(functionId);
      this.edge[at] = this.edgeOf(callerId, functionId);
    }
    const stats = this.stats[at];
    stats.calls++;
    stats.active++;
    this.edge[at].calls++;
    if (this.journaling) this.journal.push({ stats, edge: this.edge[at], calls: 1, self: 0, total: 0 });
    return at;
  }

  /** Pushes a frame; its caller, aggregates and child cost are the caller's to set. */
  private push(functionId: number, returnAddress: number, sp: number, cost: number): number {
    const at = this.size++;
    if (at === this.sp.length) this.grow();
    this.functionId[at] = functionId;
    this.returnAddress[at] = returnAddress;
    this.sp[at] = sp;
    this.entryCost[at] = cost;
    this.childCost[at] = 0;
    return at;
  }

  private grow(): void {
    const grown = (a: Float64Array) => {
      const b = new Float64Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.functionId = grown(this.functionId);
    this.callerId = grown(this.callerId);
    this.returnAddress = grown(this.returnAddress);
    this.sp = grown(this.sp);
    this.entryCost = grown(this.entryCost);
    this.childCost = grown(this.childCost);
  }

  /** Closes the frame returning to `target` and those above it; returns the return's depth. */
  private ret(target: number, cost: number): number {
    let i = this.size - 1;
    while (i >= 0 && this.returnAddress[i] !== target) i--;
    if (i < 0) return this.size; // a return from a frame entered before the recording began
    while (this.size > i) this.close(cost);
    return i;
  }

  /** Closes every open frame: the thread ended, or the trace did. */
  closeAll(cost: number): void {
    while (this.size > 0) this.close(cost);
  }

  private close(cost: number): void {
    const at = --this.size;
    const total = cost - this.entryCost[at];
    const stats = this.stats[at];
    const self = total - this.childCost[at];
    const outermost = stats.active === 1;
    stats.self += self;
    if (outermost) {
      stats.total += total;
      this.edge[at].total += total;
    }
    stats.active--;
    if (at > 0) this.childCost[at - 1] += total;
    if (this.journaling) this.journalClose(at, stats, self, outermost ? total : 0, total);
  }

  private journalClose(at: number, stats: FunctionAggregate, self: number, outermostTotal: number, total: number): void {
    if (at < this.journalFloor) this.journalBroken = true;
    else if (at === this.journalFloor) this.journalChildCost += total;
    this.journal.push({ stats, edge: this.edge[at], calls: 0, self, total: outermostTotal });
  }
}
