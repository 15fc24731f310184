import type { Statement } from 'better-sqlite3';
import { Kind, StoredCall, StoredCallRepeat, StoredCallRepeatType, StoredCallType, StoredEvent, StoredEventType } from '../schema/layout.generated.js';
import { NOT_AN_EVENT, type ChunkEvents } from '../model/chunk-events.js';
import { writeU48, writeU64 } from '../base/little-endian.js';
import { nextId, type TraceDb } from './database.js';
import { encodeRecords } from './stored-codec.js';
import { prepareKindCounts, storeKindCounts } from './chunk-kinds.js';

// The writes below are at these widths.
StoredEventType satisfies { kind: 'u8'; flags: 'u8'; depth: 'i16'; locationId: 'u32'; value: 'u64' };
StoredCallType satisfies { threadId: 'u32'; siteId: 'u32'; seq: 'u48'; depth: 'i16' };
StoredCallRepeatType satisfies { times: 'u32'; marker: 'u32'; stride: 'u48'; span: 'u16' };

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
  /** The calls its records stand for, each repeat counted as the calls it repeats. */
  calls: number;
  /** The last chunk that added to it (EventWriter.chunks). */
  touched: number;
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
  /** Events of each kind value in the row being built, and where its next record goes in scratch. */
  private readonly kindCounts = new Uint32Array(256);
  private at = 0;
  /** The seq of the chunk's next event. */
  private seq = 0;
  private pendingCallBytes = 0;
  /** Chunks written, and the callees whose lists the current one added to. */
  private chunks = 0;
  private readonly touched: number[] = [];
  /** Where entry() put the record it made room for. */
  private entryAt = 0;

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
   * another, so every row's events stay consecutive. A repeat entry is stored as a repeat record
   * after its group, in the row and in the call lists of the group's callees, once the copies
   * whose depths differ are stored one by one. `insnSeq`: the instruction seq the trace had
   * reached at the chunk's start.
   */
  write(chunk: ChunkRow, events: ChunkEvents, insnSeq: number): void {
    const bytes = (events.count + events.copyDepthsUsed) * StoredEvent.size;
    if (this.scratch.length < bytes) {
      this.scratch = Buffer.allocUnsafeSlow(Math.max(bytes, this.scratch.length * 2));
      this.view = viewOf(this.scratch);
    }
    const { kinds, depths, locationIds, values, insnSeqs } = events;
    const { threadId, firstSeq } = chunk;
    let rowSeq = firstSeq;
    let rowInsnSeq = insnSeq;
    this.at = 0;
    this.seq = firstSeq;
    for (let i = 0; i < events.count; i++) {
      const kind = kinds[i];
      if (kind === NOT_AN_EVENT) {
        this.storeRow(chunk, rowSeq, this.seq - rowSeq, rowInsnSeq);
        this.seq++;
        rowSeq = this.seq;
        rowInsnSeq = insnSeqs[i];
      } else if (kind === Kind.repeat) {
        this.repeat(threadId, events, i);
      } else {
        this.event(threadId, kind, depths[i], locationIds[i], values[i]);
      }
    }
    this.storeRow(chunk, rowSeq, this.seq - rowSeq, rowInsnSeq);
    this.settleCallLists();
  }

  /** Adds an event (and its call) to the row being built, at the next seq. */
  private event(threadId: number, kind: number, depth: number, locationId: number, value: number): void {
    this.put(kind, depth, locationId, value);
    this.kindCounts[kind]++;
    if (kind === Kind.call) this.call(value, threadId, locationId, this.seq, depth);
    this.seq++;
  }

  private put(kind: number, depth: number, locationId: number, value: number): void {
    const o = this.view;
    const at = this.at;
    o.setUint8(at + StoredEvent.kind, kind);
    o.setUint8(at + StoredEvent.flags, 0);
    o.setInt16(at + StoredEvent.depth, depth, true);
    o.setUint32(at + StoredEvent.locationId, locationId, true);
    writeU64(o, at + StoredEvent.value, value);
    this.at = at + StoredEvent.size;
  }

  /** Repeat entry `r`: its copies stored one by one, then one repeat record for the rest. */
  private repeat(threadId: number, events: ChunkEvents, r: number): void {
    const { kinds, locationIds, values, copyDepths } = events;
    const span = locationIds[r];
    const first = r - span;
    let depthAt = events.copyDepthsAt[r];
    for (let copy = 0; copy < events.copiesApart[r]; copy++) {
      for (let j = first; j < r; j++) this.event(threadId, kinds[j], copyDepths[depthAt++], locationIds[j], values[j]);
    }
    const rest = values[r] - events.copiesApart[r];
    if (rest === 0) return;
    this.put(Kind.repeat, 0, span, rest);
    for (let j = first; j < r; j++) {
      this.kindCounts[kinds[j]] += rest;
      // Each callee's calls in the group, its list's last entries, repeat there too.
      if (kinds[j] !== Kind.call || this.calledBefore(events, first, j)) continue;
      let calls = 0;
      for (let k = j; k < r; k++) if (kinds[k] === Kind.call && values[k] === values[j]) calls++;
      this.callRepeat(values[j], calls, span, rest);
    }
    this.seq += span * rest;
  }

  /** Whether entry `j`'s callee is called in the group before it. */
  private calledBefore(events: ChunkEvents, first: number, j: number): boolean {
    for (let k = first; k < j; k++) if (events.kinds[k] === Kind.call && events.values[k] === events.values[j]) return true;
    return false;
  }

  /** Stores the first `bytes` of scratch, `count` events from `firstSeq` on, as one row. */
  private storeRow(chunk: ChunkRow, firstSeq: number, count: number, insnSeq: number): void {
    if (this.at === 0) return;
    const { codec, data } = encodeRecords(this.scratch.subarray(0, this.at));
    const id = this.nextChunkId++;
    this.insertChunk.run(id, chunk.threadId, firstSeq, count, chunk.timestampNs, codec, data, insnSeq);
    storeKindCounts(this.insertKindCount, id, this.kindCounts);
    this.kindCounts.fill(0);
    this.at = 0;
  }

  /** Adds a call, made at `siteId` into `calleeId` with depth `depth`, to the callee's list. */
  private call(calleeId: number, threadId: number, siteId: number, seq: number, depth: number): void {
    const v = this.entry(calleeId, 1);
    v.setUint32(this.entryAt + StoredCall.threadId, threadId, true);
    v.setUint32(this.entryAt + StoredCall.siteId, siteId, true);
    writeU48(v, this.entryAt + StoredCall.seq, seq);
    v.setInt16(this.entryAt + StoredCall.depth, depth, true);
  }

  /** Adds to the callee's list that its last `span` calls occur `times` more times, each copy `stride` events later. */
  private callRepeat(calleeId: number, span: number, stride: number, times: number): void {
    const v = this.entry(calleeId, span * times);
    v.setUint32(this.entryAt + StoredCallRepeat.times, times, true);
    v.setUint32(this.entryAt + StoredCallRepeat.marker, 0, true);
    writeU48(v, this.entryAt + StoredCallRepeat.stride, stride);
    v.setUint16(this.entryAt + StoredCallRepeat.span, span, true);
  }

  /** Room for one more record in the callee's list, standing for `calls` calls: its view, the record at entryAt. */
  private entry(calleeId: number, calls: number): DataView {
    const list = this.callLists[calleeId] ?? this.newList(calleeId);
    this.entryAt = list.count * StoredCall.size;
    if (this.entryAt === list.data.length) this.grow(list);
    if (list.touched !== this.chunks) {
      list.touched = this.chunks;
      this.touched.push(calleeId);
    }
    list.count++;
    list.calls += calls;
    return list.view;
  }

  /**
   * After a chunk, never inside one (a repeat refers to the calls before it in the same list):
   * the lists of hot callees are written and used again, and every list once all together hold
   * PENDING_CALL_BYTES.
   */
  private settleCallLists(): void {
    for (const calleeId of this.touched) {
      const list = this.callLists[calleeId];
      if (list && list.count * StoredCall.size >= CALL_LIST_BYTES) {
        this.store(calleeId, list);
        list.count = list.calls = 0;
      }
    }
    this.touched.length = 0;
    this.chunks++;
    if (this.pendingCallBytes >= PENDING_CALL_BYTES) this.flush();
  }

  private store(calleeId: number, list: CallList): void {
    const { codec, data } = encodeRecords(list.data.subarray(0, list.count * StoredCall.size));
    this.insertCallList.run(calleeId, list.calls, codec, data);
  }

  private newList(calleeId: number): CallList {
    const data = Buffer.allocUnsafe(256);
    const list = { data, view: viewOf(data), count: 0, calls: 0, touched: -1 };
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
