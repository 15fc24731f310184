import { KIND_NAMES, type KindName } from '../schema/layout.generated.js';
import { CallStacks } from '../model/call-stacks.js';
import type { AggregateWriter } from '../store/aggregate-writer.js';
import type { OpenFrameWriter } from '../store/open-frame-writer.js';

/** One thread as the ingest follows it. */
export interface ThreadState {
  tid: number;
  name: string | null;
  firstSeen: number | null;
  lastSeen: number | null;
  /** The sequence number its next event must have. */
  nextSeq: number;
  /** Running count of the trace's cost unit on this thread. */
  cost: number;
  lost: number;
  ended: boolean;
  // Deltas since the last flush:
  events: number;
  missing: number;
  stallNs: number;
  /** Instructions recorded, and values their records did not carry. */
  insns: number;
  unrecordedRegs: number;
  unrecordedMem: number;
  /** Records by kind value. */
  kinds: Float64Array;
  stacks: CallStacks;
}

/**
 * Every thread's state, and the aggregates gathered from it: thread counts, kind counts, and the
 * function and call-edge costs of its call stack. An earlier ingest's threads and open frames
 * are taken up where it left them.
 */
export class Threads {
  private readonly all = new Map<number, ThreadState>();

  /** `costKind`: the record kind whose count is a thread's cost. */
  constructor(private readonly aggregates: AggregateWriter, private readonly openFrames: OpenFrameWriter, costKind: KindName) {
    for (const stored of aggregates.threads(costKind)) Object.assign(this.get(stored.tid), stored);
    for (const { threadId, ...frame } of openFrames.stored()) this.get(threadId).stacks.restore(frame);
  }

  get(tid: number): ThreadState {
    let t = this.all.get(tid);
    if (!t) {
      t = {
        tid, name: null, firstSeen: null, lastSeen: null, nextSeq: 0, cost: 0, lost: 0, ended: false,
        events: 0, missing: 0, stallNs: 0, insns: 0, unrecordedRegs: 0, unrecordedMem: 0, kinds: new Float64Array(256), stacks: new CallStacks(),
      };
      this.all.set(tid, t);
    }
    return t;
  }

  /** The recording ended in order: frames still open end here, at each thread's last cost. */
  closeAll(): void {
    for (const t of this.all.values()) t.stacks.closeAll(t.cost);
  }

  /** Writes what was gathered since the last flush, and the stacks as they are now. */
  flush(): void {
    const w = this.aggregates;
    this.openFrames.clear();
    for (const t of this.all.values()) {
      w.thread(t);
      t.events = t.missing = t.stallNs = t.insns = t.unrecordedRegs = t.unrecordedMem = 0;
      t.kinds.forEach((count, kind) => {
        if (count > 0) w.kind(t.tid, KIND_NAMES[kind] ?? String(kind), count);
      });
      t.kinds.fill(0);
      for (const [functionId, s] of t.stacks.functions) {
        if (s.calls === 0 && s.self === 0 && s.total === 0) continue;
        w.function(t.tid, functionId, s.calls, s.self, s.total);
        s.calls = s.self = s.total = 0;
      }
      for (const [callerId, callees] of t.stacks.edges) {
        for (const [calleeId, e] of callees) {
          if (e.calls === 0 && e.total === 0) continue;
          w.edge(t.tid, callerId, calleeId, e.calls, e.total);
          e.calls = e.total = 0;
        }
      }
      this.openFrames.save(t.tid, t.stacks.open());
    }
  }
}
