import { KIND_NAMES, Kind, StoredCall, StoredEvent, type KindName } from '../schema/layout.generated.js';
import type { TraceDb } from './database.js';
import { UserError } from '../base/errors.js';
import { readU48, readU64 } from '../base/little-endian.js';
import { decodeRecords } from './stored-codec.js';

/** A stored event's kind: any record kind but repeat, which only chunks in transit hold. */
export type EventKindName = Exclude<KindName, 'repeat'>;

/**
 * Walks stored events without allocating per event: fields are updated in place by next().
 * Chunks come from a SELECT of (thread_id, first_seq, codec, data) rows in the order wanted.
 */
export class EventCursor {
  threadId = 0;
  seq = 0;
  kind: EventKindName = 'call';
  kindValue = 0;
  depth = 0;
  locationId = 0;
  /** call/ret: target location id; block/compile: size; syscall/sysret: syscalls.id; stall: ns. */
  value = 0;
  /** The trace's instruction seq when the event's chunk began (no instruction of the thread ran between its events); null before schema 5. */
  insnSeq: number | null = null;
  private view: DataView | null = null;
  private at = 0;
  private end = 0;
  private firstSeq = 0;

  constructor(private readonly chunks: Iterator<ChunkRow>) {}

  next(): boolean {
    while (this.view === null || this.at >= this.end) {
      const r = this.chunks.next();
      if (r.done) return false;
      const data = decodeEventChunk(r.value.codec, r.value.data, r.value.thread_id);
      this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      this.threadId = r.value.thread_id;
      this.firstSeq = r.value.first_seq;
      this.insnSeq = r.value.insn_seq;
      this.at = 0;
      this.end = data.byteLength;
    }
    const v = this.view;
    const at = this.at;
    this.kindValue = v.getUint8(at + StoredEvent.kind);
    this.kind = KIND_NAMES[this.kindValue] as EventKindName;
    this.depth = v.getInt16(at + StoredEvent.depth, true);
    this.locationId = v.getUint32(at + StoredEvent.locationId, true);
    this.value = readU64(v, at + StoredEvent.value);
    this.seq = this.firstSeq + at / StoredEvent.size;
    this.at = at + StoredEvent.size;
    return true;
  }
}

/** A chunk's records, every event's kind checked: one the schema names for events. */
export function decodeEventChunk(codec: number, data: Buffer, threadId: number): Buffer {
  const records = decodeRecords(codec, data, `an event chunk of thread ${threadId}`);
  for (let at = StoredEvent.kind; at < records.length; at += StoredEvent.size) {
    if (KIND_NAMES[records[at]] === undefined || records[at] === Kind.repeat) {
      throw new UserError(`the trace database is damaged: thread ${threadId} has an event of unknown kind ${records[at]}`);
    }
  }
  return records;
}

/** A call list's storedCall records. */
export function decodeCallList(codec: number, data: Buffer, calleeId: number): Buffer {
  return decodeRecords(codec, data, `the call list of location ${calleeId}`);
}

export interface EventRange {
  thread?: number;
  fromSeq?: number;
  toSeq?: number;
}

type ChunkRow = { thread_id: number; first_seq: number; codec: number; data: Buffer; insn_seq: number | null };

/** Chunks a page at a time, so no statement stays open between pages (a virtual table may be nested). */
const PAGE = 32;

function* chunkPages(db: TraceDb, range: EventRange): Generator<ChunkRow> {
  const where = ['(thread_id, first_seq) > (?, ?)'];
  const args: number[] = [];
  let after = [-1, -1];
  if (range.thread !== undefined) {
    where.push('thread_id = ?');
    args.push(range.thread);
    // Start at the chunk holding fromSeq, found through the (thread_id, first_seq) index: a
    // condition on first_seq + count would read every earlier chunk of the thread.
    const start = range.fromSeq === undefined ? null : db.prepare('SELECT max(first_seq) FROM event_chunks WHERE thread_id = ? AND first_seq <= ?')
      .pluck().get(range.thread, range.fromSeq) as number | null;
    if (start !== null) after = [range.thread, start - 1];
  } else if (range.fromSeq !== undefined) {
    where.push('first_seq + count > ?');
    args.push(range.fromSeq);
  }
  if (range.toSeq !== undefined) {
    where.push('first_seq <= ?');
    args.push(range.toSeq);
  }
  const page = db.prepare(`SELECT thread_id, first_seq, codec, data, insn_seq FROM event_chunks WHERE ${where.join(' AND ')}
    ORDER BY thread_id, first_seq LIMIT ${PAGE}`);
  for (;;) {
    const rows = page.all(...after, ...args) as ChunkRow[];
    yield* rows;
    if (rows.length < PAGE) return;
    const last = rows[rows.length - 1];
    after = [last.thread_id, last.first_seq];
  }
}

/** Events of one thread (or all, thread by thread) in sequence order, from fromSeq to toSeq inclusive. */
export function eventCursor(db: TraceDb, range: EventRange = {}): EventCursor {
  const cursor = new EventCursor(chunkPages(db, range));
  if (range.fromSeq === undefined && range.toSeq === undefined) return cursor;
  const from = range.fromSeq ?? 0;
  const to = range.toSeq ?? Infinity;
  // The chunks overlap the window; trim the events of its first and last ones.
  const inner = cursor.next.bind(cursor);
  cursor.next = () => {
    while (inner()) {
      if (cursor.seq >= from && cursor.seq <= to) return true;
    }
    return false;
  };
  return cursor;
}

/** A callee's call lists (all callees' when undefined), a page at a time like chunkPages. */
export function* callLists(db: TraceDb, calleeId?: number): Generator<{ callee_id: number; data: Buffer }> {
  const page = db.prepare(`SELECT id, callee_id, codec, data FROM call_lists WHERE id > ? ${calleeId === undefined ? '' : 'AND callee_id = ?'}
    ORDER BY id LIMIT ${PAGE}`);
  let after = 0;
  for (;;) {
    const rows = page.all(after, ...(calleeId === undefined ? [] : [calleeId])) as { id: number; callee_id: number; codec: number; data: Buffer }[];
    for (const r of rows) yield { callee_id: r.callee_id, data: decodeCallList(r.codec, r.data, r.callee_id) };
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1].id;
  }
}

export interface StoredCallRow {
  threadId: number;
  siteId: number;
  seq: number;
  depth: number;
}

/** Decodes one call_lists blob. */
export function* storedCalls(data: Buffer): Generator<StoredCallRow> {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let at = 0; at < data.length; at += StoredCall.size) {
    yield {
      threadId: v.getUint32(at + StoredCall.threadId, true),
      siteId: v.getUint32(at + StoredCall.siteId, true),
      seq: readU48(v, at + StoredCall.seq),
      depth: v.getInt16(at + StoredCall.depth, true),
    };
  }
}
