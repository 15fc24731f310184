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

/** What one call or close added to a function's and an edge's aggregates; `at`: the frame a close closed. */
interface JournalEntry {
  stats: FunctionAggregate;
  edge: EdgeAggregate;
  calls: number;
  self: number;
  total: number;
  /** A close: the cost it passed to the frame below; and the frame's index. */
  passed: number;
  at: number;
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
  // One run of a repeated group, while `journaling`: what it added (journal entries, the first
  // journalSize of them), the stack's size and the cost when it began, the lowest frame it
  // closed, and, for each frame open before it that it closed, what that frame was (by depth
  // below the run's start): to tell whether the run left the stack as it found it.
  private journaling = false;
  private readonly journal: JournalEntry[] = [];
  private journalSize = 0;
  private journalFloor = 0;
  private journalLow = 0;
  private journalCost = 0;
  private readonly before: { functionId: number; callerId: number; returnAddress: number; sp: number; age: number; childCost: number }[] = [];

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
    if (rest > 0) this.runAgain(rest);
  }

  /** Adds what the journaled run did, `times` more: as many runs after it would. */
  private runAgain(times: number): void {
    const low = this.journalLow;
    let passedBelow = 0;
    for (let k = 0; k < this.journalSize; k++) {
      const e = this.journal[k];
      e.stats.calls += e.calls * times;
      e.edge.calls += e.calls * times;
      e.stats.self += e.self * times;
      e.stats.total += e.total * times;
      e.edge.total += e.total * times;
      if (e.at === low) passedBelow += e.passed;
    }
    if (low > 0) this.childCost[low - 1] += passedBelow * times;
    const perRun = this.cost - this.journalCost;
    // The frames the run replaced open again in each later run, that much later.
    for (let i = low; i < this.size; i++) this.entryCost[i] += perRun * times;
    this.cost += perRun * times;
  }

  /**
   * Whether the run journaled since startJournal() left the stack as it found it: as many frames,
   * those it replaced the same calls opened as long before its end as the ones it closed were
   * before its start. Then each run after it does the same.
   */
  private periodic(): boolean {
    if (this.size !== this.journalFloor) return false;
    for (let i = this.journalLow; i < this.journalFloor; i++) {
      const b = this.before[this.journalFloor - 1 - i];
      if (this.functionId[i] !== b.functionId || this.callerId[i] !== b.callerId || this.returnAddress[i] !== b.returnAddress ||
        !Object.is(this.sp[i], b.sp) || this.cost - this.entryCost[i] !== b.age || this.childCost[i] !== b.childCost) return false;
    }
    return true;
  }

  private startJournal(): void {
    this.journaling = true;
    this.journalSize = 0;
    this.journalFloor = this.journalLow = this.size;
    this.journalCost = this.cost;
  }

  private journalEntry(stats: FunctionAggregate, edge: EdgeAggregate, calls: number, self: number, total: number, passed: number, at: number): void {
    const e = this.journal[this.journalSize++];
    if (e === undefined) this.journal.push({ stats, edge, calls, self, total, passed, at });
    else Object.assign(e, { stats, edge, calls, self, total, passed, at });
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
    if (this.journaling) this.journalEntry(stats, this.edge[at], 1, 0, 0, 0, -1);
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
    if (at < this.journalLow) {
      // A frame open before the run, closed for the first time in it (frames close from the top).
      this.journalLow = at;
      let passed = 0;
      for (let k = 0; k < this.journalSize; k++) if (this.journal[k].at === at + 1) passed += this.journal[k].passed;
      this.before[this.journalFloor - 1 - at] = {
        functionId: this.functionId[at], callerId: this.callerId[at], returnAddress: this.returnAddress[at], sp: this.sp[at],
        age: this.journalCost - this.entryCost[at], childCost: this.childCost[at] - passed,
      };
    }
    this.journalEntry(stats, this.edge[at], 0, self, outermostTotal, total, at);
  }
}
