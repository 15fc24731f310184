import type { Statement } from 'better-sqlite3';
import { StoredCall, StoredCallType, StoredEvent, StoredEventType } from '../schema/layout.generated.js';
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
  recordCount: number;
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
  /** Where the next event of the open chunk goes in scratch. */
  private at = 0;
  private chunk: ChunkRow | null = null;
  /** Sequence number of the open stored chunk's first event, and the instruction seq then. */
  private firstSeq = 0;
  private insnSeq = 0;
  /** Events of each kind value in the open stored chunk. */
  private readonly kindCounts = new Uint32Array(256);
  private readonly callLists = new Map<number, CallList>();
  private pendingCallBytes = 0;

  constructor(db: TraceDb) {
    this.insertChunk = db.prepare(`INSERT INTO event_chunks (id, thread_id, first_seq, count, timestamp_ns, codec, data, insn_seq)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertCallList = db.prepare('INSERT INTO call_lists (callee_id, count, codec, data) VALUES (?, ?, ?, ?)');
    this.insertKindCount = prepareKindCounts(db);
    this.nextChunkId = nextId(db, 'event_chunks');
  }

  /**
   * Opens a chunk: event() adds its events in order, skip() passes over a record not stored as
   * an event, endChunk() stores them. `insnSeq`: the instruction seq the trace has reached.
   */
  beginChunk(chunk: ChunkRow, insnSeq: number): void {
    const bytes = chunk.recordCount * StoredEvent.size;
    if (this.scratch.length < bytes) {
      this.scratch = Buffer.allocUnsafeSlow(Math.max(bytes, this.scratch.length * 2));
      this.view = viewOf(this.scratch);
    }
    this.at = 0;
    this.chunk = chunk;
    this.firstSeq = chunk.firstSeq;
    this.insnSeq = insnSeq;
  }

  /**
   * The record before `nextSeq` is not an event (an instruction record): the events so far are
   * stored as one row and the next starts another, so every row's events stay consecutive.
   */
  skip(nextSeq: number, insnSeq: number): void {
    this.storeOpen();
    this.firstSeq = nextSeq;
    this.insnSeq = insnSeq;
  }

  event(kind: number, depth: number, locationId: number, value: number): void {
    const o = this.view;
    const at = this.at;
    o.setUint8(at + StoredEvent.kind, kind);
    o.setUint8(at + StoredEvent.flags, 0);
    o.setInt16(at + StoredEvent.depth, depth, true);
    o.setUint32(at + StoredEvent.locationId, locationId, true);
    writeU64(o, at + StoredEvent.value, value);
    this.at = at + StoredEvent.size;
    this.kindCounts[kind]++;
  }

  endChunk(): void {
    this.storeOpen();
    this.chunk = null;
  }

  private storeOpen(): void {
    if (this.at === 0) return;
    const { threadId, timestampNs } = this.chunk!;
    const { codec, data } = encodeRecords(this.scratch.subarray(0, this.at));
    const id = this.nextChunkId++;
    this.insertChunk.run(id, threadId, this.firstSeq, this.at / StoredEvent.size, timestampNs, codec, data, this.insnSeq);
    storeKindCounts(this.insertKindCount, id, this.kindCounts);
    this.kindCounts.fill(0);
    this.at = 0;
  }

  /** Adds a call, made at `siteId` into `calleeId` with depth `depth`, to the callee's list. */
  call(calleeId: number, threadId: number, siteId: number, seq: number, depth: number): void {
    const list = this.callLists.get(calleeId) ?? this.newList(calleeId);
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
    this.callLists.set(calleeId, list);
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
    for (const [calleeId, list] of this.callLists) {
      this.store(calleeId, list);
      this.pendingCallBytes -= list.data.length;
      this.callLists.delete(calleeId);
    }
  }
}
