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
   * after the chunk.
   */
  pair(events: ChunkEvents, records: CallRecords, costKind: number, cost: number): number {
    const { kinds, values, depths } = events;
    const { targets, sps, returnAddresses } = records;
    for (let i = 0; i < events.count; i++) {
      const kind = kinds[i];
      if (kind === Kind.call) {
        // A call first closes what it shows was unwound, so its own cost is not theirs. Where
        // either stack pointer is unknown (NaN) the comparisons are false.
        const sp = sps[i];
        while (this.size > 0 && sp >= this.sp[this.size - 1] && sp - this.sp[this.size - 1] < STACK_SWITCH_BYTES) this.close(cost);
        if (kind === costKind) cost++;
        depths[i] = this.call(values[i], returnAddresses[i], sp, cost);
        continue;
      }
      if (kind === costKind) cost++;
      depths[i] = kind === Kind.ret ? this.ret(targets[i], cost) : this.size;
    }
    return cost;
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
    stats.self += total - this.childCost[at];
    if (stats.active === 1) {
      stats.total += total;
      this.edge[at].total += total;
    }
    stats.active--;
    if (at > 0) this.childCost[at - 1] += total;
  }
}
