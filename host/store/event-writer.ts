import type { Statement } from 'better-sqlite3';
import { Kind, StoredCall, StoredCallType, StoredEvent, StoredEventType } from '../schema/layout.generated.js';
import { NOT_AN_EVENT, type ChunkEvents } from '../model/chunk-events.js';
import { writeU48, writeU64 } from '../base/little-endian.js';
import { nextId, type TraceDb } from './database.js';
import { encodeRecords } from './stored-codec.js';
import { prepareKindCounts, storeKindCounts } from './chunk-kinds.js';

// The writes below are at these widths.
StoredEventType satisfies { kind: 'u8'; flags: 'u8'; depth: 'i16'; locationId: 'u32'; value: 'u64' };
StoredCallType satisfies { threadId: 'u32'; siteId: 'u32'; seq: 'u48'; depth: 'i16' };

/** What event_chunks keeps of a chunk besides its events. */
export interface ChunkRow {
  threadId: number;
  firstSeq: number;
  timestampNs: number;
}

/** A callee's calls not yet written to call_lists. */
interface CallList {
  data: Buffer;
  view: DataView;
  count: number;
}

const viewOf = (data: Buffer) => new DataView(data.buffer, data.byteOffset, data.byteLength);

/** A call list is written as one row when it reaches this size, or when all pending lists together reach PENDING_CALL_BYTES. */
const CALL_LIST_BYTES = 64 << 10;
const PENDING_CALL_BYTES = 16 << 20;

/**
 * Writes events compactly: a chunk of a thread's events as one event_chunks row of storedEvent
 * records, and every call a second time into its callee's call list (storedCall records).
 */
export class EventWriter {
  private readonly insertChunk: Statement;
  private readonly insertCallList: Statement;
  private readonly insertKindCount: Statement;
  private nextChunkId: number;
  /** One scratch buffer for every chunk: SQLite copies a blob when it is bound. */
  private scratch = Buffer.allocUnsafeSlow(1 << 16);
  private view = viewOf(this.scratch);
  /** Pending call lists by callee id (ids are dense), and the callees that have one in the order they got it. */
  private readonly callLists: (CallList | undefined)[] = [];
  private readonly listed: number[] = [];
  /** Events of each kind value in the row being built. */
  private readonly kindCounts = new Uint32Array(256);
  private pendingCallBytes = 0;

  constructor(db: TraceDb) {
    this.insertChunk = db.prepare(`INSERT INTO event_chunks (id, thread_id, first_seq, count, timestamp_ns, codec, data, insn_seq)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertCallList = db.prepare('INSERT INTO call_lists (callee_id, count, codec, data) VALUES (?, ?, ?, ?)');
    this.insertKindCount = prepareKindCounts(db);
    this.nextChunkId = nextId(db, 'event_chunks');
  }

  /**
   * Stores a chunk's events as event_chunks rows of storedEvent records, and each call again in
   * its callee's call list. A record that is not an event ends a row and the next event starts
   * another, so every row's events stay consecutive. `insnSeq`: the instruction seq the trace
   * had reached at the chunk's start.
   */
  write(chunk: ChunkRow, events: ChunkEvents, insnSeq: number): void {
    const bytes = events.count * StoredEvent.size;
    if (this.scratch.length < bytes) {
      this.scratch = Buffer.allocUnsafeSlow(Math.max(bytes, this.scratch.length * 2));
      this.view = viewOf(this.scratch);
    }
    const o = this.view;
    const { kinds, depths, locationIds, values, insnSeqs } = events;
    const { threadId, firstSeq } = chunk;
    let rowSeq = firstSeq;
    let rowInsnSeq = insnSeq;
    let at = 0;
    for (let i = 0; i < events.count; i++) {
      const kind = kinds[i];
      if (kind === NOT_AN_EVENT) {
        this.storeRow(chunk, rowSeq, at, rowInsnSeq);
        at = 0;
        rowSeq = firstSeq + i + 1;
        rowInsnSeq = insnSeqs[i];
        continue;
      }
      o.setUint8(at + StoredEvent.kind, kind);
      o.setUint8(at + StoredEvent.flags, 0);
      o.setInt16(at + StoredEvent.depth, depths[i], true);
      o.setUint32(at + StoredEvent.locationId, locationIds[i], true);
      writeU64(o, at + StoredEvent.value, values[i]);
      at += StoredEvent.size;
      this.kindCounts[kind]++;
      if (kind === Kind.call) this.call(values[i], threadId, locationIds[i], firstSeq + i, depths[i]);
    }
    this.storeRow(chunk, rowSeq, at, rowInsnSeq);
  }

  /** Stores the first `bytes` of scratch, events from `firstSeq` on, as one row. */
  private storeRow(chunk: ChunkRow, firstSeq: number, bytes: number, insnSeq: number): void {
    if (bytes === 0) return;
    const { codec, data } = encodeRecords(this.scratch.subarray(0, bytes));
    const id = this.nextChunkId++;
    this.insertChunk.run(id, chunk.threadId, firstSeq, bytes / StoredEvent.size, chunk.timestampNs, codec, data, insnSeq);
    storeKindCounts(this.insertKindCount, id, this.kindCounts);
    this.kindCounts.fill(0);
  }

  /** Adds a call, made at `siteId` into `calleeId` with depth `depth`, to the callee's list. */
  private call(calleeId: number, threadId: number, siteId: number, seq: number, depth: number): void {
    const list = this.callLists[calleeId] ?? this.newList(calleeId);
    const at = list.count * StoredCall.size;
    if (at === list.data.length) this.grow(list);
    const v = list.view;
    v.setUint32(at + StoredCall.threadId, threadId, true);
    v.setUint32(at + StoredCall.siteId, siteId, true);
    writeU48(v, at + StoredCall.seq, seq);
    v.setInt16(at + StoredCall.depth, depth, true);
    list.count++;
    if (at + StoredCall.size >= CALL_LIST_BYTES) {
      // A hot callee: its full buffer is written and used again.
      this.store(calleeId, list);
      list.count = 0;
    }
    else if (this.pendingCallBytes >= PENDING_CALL_BYTES) this.flush();
  }

  private store(calleeId: number, list: CallList): void {
    const { codec, data } = encodeRecords(list.data.subarray(0, list.count * StoredCall.size));
    this.insertCallList.run(calleeId, list.count, codec, data);
  }

  private newList(calleeId: number): CallList {
    const data = Buffer.allocUnsafe(256);
    const list = { data, view: viewOf(data), count: 0 };
    this.callLists[calleeId] = list;
    this.listed.push(calleeId);
    this.pendingCallBytes += list.data.length;
    return list;
  }

  private grow(list: CallList): void {
    const grown = Buffer.allocUnsafe(list.data.length * 2);
    list.data.copy(grown);
    this.pendingCallBytes += list.data.length;
    list.data = grown;
    list.view = viewOf(grown);
  }

  /** Writes every pending call list. */
  flush(): void {
    for (const calleeId of this.listed) {
      const list = this.callLists[calleeId]!;
      this.store(calleeId, list);
      this.pendingCallBytes -= list.data.length;
      this.callLists[calleeId] = undefined;
    }
    this.listed.length = 0;
  }
}
