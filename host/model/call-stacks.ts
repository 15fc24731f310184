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

export interface StackFrame {
  functionId: number;
  callerId: number;
  /** Where the call returns to: a return to this address closes the frame. */
  returnAddress: number;
  /** The stack pointer at the call instruction; null where the capture does not say. */
  sp: number | null;
  entryCost: number;
  childCost: number;
  stats: FunctionAggregate;
  edge: EdgeAggregate;
}

export type StackFrameState = Pick<StackFrame, 'functionId' | 'callerId' | 'returnAddress' | 'sp' | 'entryCost' | 'childCost'>;

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
 * from one frame always get one depth. Depth is the number of frames open. Cost is whatever the trace counts (instructions, blocks or calls):
 * the thread's running count is passed in.
 */
export class CallStacks {
  readonly frames: StackFrame[] = [];
  readonly functions = new Map<number, FunctionAggregate>();
  readonly edges = new Map<number, Map<number, EdgeAggregate>>();

  private stats(functionId: number): FunctionAggregate {
    let s = this.functions.get(functionId);
    if (!s) this.functions.set(functionId, (s = { calls: 0, self: 0, total: 0, active: 0 }));
    return s;
  }

  private edge(callerId: number, calleeId: number): EdgeAggregate {
    let out = this.edges.get(callerId);
    if (!out) this.edges.set(callerId, (out = new Map()));
    let e = out.get(calleeId);
    if (!e) out.set(calleeId, (e = { calls: 0, total: 0 }));
    return e;
  }

  /** Restores a frame left open by an earlier ingest. */
  restore(state: StackFrameState): void {
    const stats = this.stats(state.functionId);
    stats.active++;
    this.frames.push({ ...state, stats, edge: this.edge(state.callerId, state.functionId) });
  }

  get depth(): number {
    return this.frames.length;
  }

  /** Before a call made with stack pointer `sp`: closes the frames it shows were unwound. */
  unwind(sp: number, cost: number): void {
    const frames = this.frames;
    for (let top = frames[frames.length - 1]; top?.sp != null && sp >= top.sp && sp - top.sp < STACK_SWITCH_BYTES; top = frames[frames.length - 1]) {
      this.close(cost);
    }
  }

  /** Opens a frame for a call made with stack pointer `sp` (null: unknown); returns the call's depth. */
  call(functionId: number, returnAddress: number, sp: number | null, cost: number): number {
    const frames = this.frames;
    const callerId = frames.length > 0 ? frames[frames.length - 1].functionId : 0;
    const stats = this.stats(functionId);
    const edge = this.edge(callerId, functionId);
    stats.calls++;
    stats.active++;
    edge.calls++;
    frames.push({ functionId, callerId, returnAddress, sp, entryCost: cost, childCost: 0, stats, edge });
    return frames.length - 1;
  }

  /** Closes the frame returning to `target` and those above it; returns the return's depth. */
  ret(target: number, cost: number): number {
    const frames = this.frames;
    let i = frames.length - 1;
    while (i >= 0 && frames[i].returnAddress !== target) i--;
    if (i < 0) return frames.length; // a return from a frame entered before the recording began
    while (frames.length > i) this.close(cost);
    return i;
  }

  /** Closes every open frame: the thread ended, or the trace did. */
  closeAll(cost: number): void {
    while (this.frames.length > 0) this.close(cost);
  }

  private close(cost: number): void {
    const frame = this.frames.pop()!;
    const total = cost - frame.entryCost;
    frame.stats.self += total - frame.childCost;
    if (frame.stats.active === 1) {
      frame.stats.total += total;
      frame.edge.total += total;
    }
    frame.stats.active--;
    if (this.frames.length > 0) this.frames[this.frames.length - 1].childCost += total;
  }
}
