import type { Statement } from 'better-sqlite3';
import type { KindName } from '../schema/layout.generated.js';
import type { TraceDb } from './database.js';

/** A thread's row, with its counts since the last write (they are added to what is stored). */
export interface ThreadRow {
  tid: number;
  name: string | null;
  firstSeen: number | null;
  lastSeen: number | null;
  events: number;
  lost: number;
  missing: number;
  stallNs: number;
  ended: boolean;
  /** The ring sequence number its next record will have. */
  nextSeq: number;
  insns: number;
  unrecordedRegs: number;
  unrecordedMem: number;
}

/** A thread as an earlier ingest left it, with where its events go on and its running cost. */
export interface StoredThread {
  tid: number;
  name: string | null;
  firstSeen: number | null;
  lastSeen: number | null;
  lost: number;
  ended: boolean;
  nextSeq: number;
  cost: number;
}

/** Counts that only grow: threads, kind_counts, function_stats and call_edges take each delta added. */
export class AggregateWriter {
  private readonly upsertThread: Statement;
  private readonly addKind: Statement;
  private readonly addFunction: Statement;
  private readonly addEdge: Statement;

  constructor(private readonly db: TraceDb) {
    this.upsertThread = db.prepare(`INSERT INTO threads (id, name, first_seen_ns, last_seen_ns, events, lost, missing, stall_ns, ended,
        next_seq, insns, unrecorded_regs, unrecorded_mem)
      VALUES (@tid, @name, @firstSeen, @lastSeen, @events, @lost, @missing, @stallNs, @ended, @nextSeq, @insns, @unrecordedRegs, @unrecordedMem)
      ON CONFLICT (id) DO UPDATE SET name = coalesce(excluded.name, name),
        first_seen_ns = coalesce(first_seen_ns, excluded.first_seen_ns),
        last_seen_ns = coalesce(excluded.last_seen_ns, last_seen_ns),
        events = events + excluded.events, lost = max(lost, excluded.lost), missing = missing + excluded.missing,
        stall_ns = stall_ns + excluded.stall_ns, ended = max(ended, excluded.ended), next_seq = excluded.next_seq,
        insns = insns + excluded.insns, unrecorded_regs = unrecorded_regs + excluded.unrecorded_regs,
        unrecorded_mem = unrecorded_mem + excluded.unrecorded_mem`);
    this.addKind = db.prepare(`INSERT INTO kind_counts (thread_id, kind, count) VALUES (?, ?, ?)
      ON CONFLICT DO UPDATE SET count = count + excluded.count`);
    this.addFunction = db.prepare(`INSERT INTO function_stats (thread_id, function_id, calls, self_cost, total_cost) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET calls = calls + excluded.calls, self_cost = self_cost + excluded.self_cost,
        total_cost = total_cost + excluded.total_cost`);
    this.addEdge = db.prepare(`INSERT INTO call_edges (thread_id, caller_id, callee_id, calls, total_cost) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET calls = calls + excluded.calls, total_cost = total_cost + excluded.total_cost`);
  }

  /** Every stored thread; `costKind` is the kind whose count is a thread's running cost. */
  threads(costKind: KindName): StoredThread[] {
    return (this.db.prepare(`SELECT t.id, t.name, t.first_seen_ns, t.last_seen_ns, t.lost, t.ended,
        coalesce(t.next_seq, (SELECT coalesce(max(first_seq + count), 0) FROM event_chunks WHERE thread_id = t.id)) AS next_seq,
        (SELECT coalesce(sum(count), 0) FROM kind_counts WHERE thread_id = t.id AND kind = ?) AS cost
        FROM threads t`).all(costKind) as Record<string, number & string>[]).map((t) => ({
      tid: t.id, name: t.name, firstSeen: t.first_seen_ns, lastSeen: t.last_seen_ns, lost: t.lost, ended: !!t.ended, nextSeq: t.next_seq, cost: t.cost,
    }));
  }

  thread(t: ThreadRow): void {
    this.upsertThread.run({
      tid: t.tid, name: t.name, firstSeen: t.firstSeen, lastSeen: t.lastSeen, events: t.events, lost: t.lost, missing: t.missing,
      stallNs: t.stallNs, ended: t.ended ? 1 : 0, nextSeq: t.nextSeq, insns: t.insns, unrecordedRegs: t.unrecordedRegs,
      unrecordedMem: t.unrecordedMem,
    });
  }

  kind(tid: number, kind: string, count: number): void {
    this.addKind.run(tid, kind, count);
  }

  function(tid: number, functionId: number, calls: number, self: number, total: number): void {
    this.addFunction.run(tid, functionId, calls, self, total);
  }

  edge(tid: number, callerId: number, calleeId: number, calls: number, total: number): void {
    this.addEdge.run(tid, callerId, calleeId, calls, total);
  }
}
