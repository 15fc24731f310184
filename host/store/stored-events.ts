import { KIND_NAMES, Kind, StoredCall, StoredCallRepeat, StoredEvent, type KindName } from '../schema/layout.generated.js';
import type { TraceDb } from './database.js';
import { UserError } from '../base/errors.js';
import { readU48, readU64, writeU48 } from '../base/little-endian.js';
import { copyRepeats } from '../base/repeat-copy.js';
import { decodeRecords } from './stored-codec.js';

/** An event's kind: any record kind but repeat and insnpack, which readers expand. */
export type EventKindName = Exclude<KindName, 'repeat' | 'insnpack'>;

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

/** A chunk's records, every event's kind checked (one the schema names for events), and its repeat records expanded. */
export function decodeEventChunk(codec: number, data: Buffer, threadId: number): Buffer {
  const records = decodeRecords(codec, data, `an event chunk of thread ${threadId}`);
  const v = new DataView(records.buffer, records.byteOffset, records.byteLength);
  // What each repeat adds, checked first: then the copy is sized once.
  let size = records.length;
  let plain = 0;
  for (let at = 0; at < records.length; at += StoredEvent.size) {
    const kind = records[at + StoredEvent.kind];
    if (kind !== Kind.repeat) {
      if (KIND_NAMES[kind] === undefined) throw damaged(`thread ${threadId} has an event of unknown kind ${kind}`);
      plain++;
      continue;
    }
    const span = v.getUint32(at + StoredEvent.locationId, true);
    const times = readU64(v, at + StoredEvent.value);
    if (span === 0 || span > plain || times === 0) throw damaged(`thread ${threadId} has a repeat record that repeats no events right before it`);
    size += (span * times - 1) * StoredEvent.size;
    plain = 0;
  }
  if (size === records.length) return records;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (let at = 0; at < records.length; at += StoredEvent.size) {
    if (records[at + StoredEvent.kind] === Kind.repeat) {
      o = copyRepeats(out, o - v.getUint32(at + StoredEvent.locationId, true) * StoredEvent.size, o, readU64(v, at + StoredEvent.value));
    } else {
      records.copy(out, o, at, at + StoredEvent.size);
      o += StoredEvent.size;
    }
  }
  return out;
}

/** A call list's storedCall records, its storedCallRepeat records expanded. */
export function decodeCallList(codec: number, data: Buffer, calleeId: number): Buffer {
  const records = decodeRecords(codec, data, `the call list of location ${calleeId}`);
  const v = new DataView(records.buffer, records.byteOffset, records.byteLength);
  let size = records.length;
  let plain = 0;
  for (let at = 0; at < records.length; at += StoredCall.size) {
    if (!isCallRepeat(v, at)) {
      plain++;
      continue;
    }
    const span = v.getUint16(at + StoredCallRepeat.span, true);
    const times = v.getUint32(at + StoredCallRepeat.times, true);
    if (span === 0 || span > plain || times === 0) throw damaged(`the call list of location ${calleeId} has a repeat record that repeats no calls right before it`);
    size += (span * times - 1) * StoredCall.size;
    plain = 0;
  }
  if (size === records.length) return records;
  const out = Buffer.allocUnsafe(size);
  const o = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let end = 0;
  for (let at = 0; at < records.length; at += StoredCall.size) {
    if (!isCallRepeat(v, at)) {
      records.copy(out, end, at, at + StoredCall.size);
      end += StoredCall.size;
      continue;
    }
    const first = end - v.getUint16(at + StoredCallRepeat.span, true) * StoredCall.size;
    const stride = readU48(v, at + StoredCallRepeat.stride);
    const groupBytes = end - first;
    end = copyRepeats(out, first, end, v.getUint32(at + StoredCallRepeat.times, true));
    // Each copy's calls come `stride` events after the copy's before it.
    for (let c = first + groupBytes; c < end; c += StoredCall.size) writeU48(o, c + StoredCall.seq, readU48(o, c - groupBytes + StoredCall.seq) + stride);
  }
  return out;
}

/** A storedCallRepeat has 0 where a storedCall has its site, whose id is never 0. */
const isCallRepeat = (v: DataView, at: number) => v.getUint32(at + StoredCallRepeat.marker, true) === 0;

const damaged = (what: string) => new UserError(`the trace database is damaged: ${what}`);

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
