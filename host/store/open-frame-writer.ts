import type { Statement } from 'better-sqlite3';
import type { StackFrameState } from '../model/call-stacks.js';
import type { TraceDb } from './database.js';

/** A frame an earlier ingest left open, in its thread's stack from the bottom. */
export interface OpenFrameRow extends StackFrameState {
  threadId: number;
}

/** open_frames: each thread's call stack where the capture stopped, so a longer copy of it continues them. */
export class OpenFrameWriter {
  private readonly deleteAll: Statement;
  private readonly insert: Statement;

  constructor(private readonly db: TraceDb) {
    this.deleteAll = db.prepare('DELETE FROM open_frames');
    this.insert = db.prepare(`INSERT INTO open_frames (thread_id, position, function_id, caller_id, return_address, sp, entry_cost, child_cost)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  }

  stored(): OpenFrameRow[] {
    return (this.db.prepare('SELECT * FROM open_frames ORDER BY thread_id, position').all() as Record<string, number>[]).map((f) => ({
      threadId: f.thread_id, functionId: f.function_id, callerId: f.caller_id, returnAddress: f.return_address, sp: f.sp,
      entryCost: f.entry_cost, childCost: f.child_cost,
    }));
  }

  /** Forgets the stored stacks: save() then stores each thread's as it is now. */
  clear(): void {
    this.deleteAll.run();
  }

  /** A thread's open frames, from the bottom. */
  save(tid: number, frames: readonly StackFrameState[]): void {
    frames.forEach((f, position) => this.insert.run(tid, position, f.functionId, f.callerId, f.returnAddress, f.sp, f.entryCost, f.childCost));
  }
}
