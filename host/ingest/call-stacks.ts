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

export interface Frame {
  functionId: number;
  callerId: number;
  depth: number;
  entryCost: number;
  childCost: number;
  stats: FunctionAggregate;
  edge: EdgeAggregate;
}

export type FrameState = Pick<Frame, 'functionId' | 'callerId' | 'depth' | 'entryCost' | 'childCost'>;

/**
 * One thread's shadow stack, matched from call and return records by depth, and the function
 * and call-edge aggregates it yields. Cost is whatever the trace counts (instructions, blocks or
 * calls): the thread's running count is passed in.
 */
export class CallStacks {
  readonly frames: Frame[] = [];
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
  restore(state: FrameState): void {
    const stats = this.stats(state.functionId);
    stats.active++;
    this.frames.push({ ...state, stats, edge: this.edge(state.callerId, state.functionId) });
  }

  call(functionId: number, depth: number, cost: number): void {
    const callerId = this.frames.length > 0 ? this.frames[this.frames.length - 1].functionId : 0;
    const stats = this.stats(functionId);
    const edge = this.edge(callerId, functionId);
    stats.calls++;
    stats.active++;
    edge.calls++;
    this.frames.push({ functionId, callerId, depth, entryCost: cost, childCost: 0, stats, edge });
  }

  /** Closes the frame of this depth, and any deeper ones a longjmp or exception left behind. */
  ret(depth: number, cost: number): void {
    const frames = this.frames;
    while (frames.length > 0 && frames[frames.length - 1].depth > depth) this.close(cost);
    if (frames.length > 0 && frames[frames.length - 1].depth === depth) this.close(cost);
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
