import { CHUNK_MAGIC, ChunkFlag, ChunkHeader, Kind, MAX_FRAME_LENGTH, RingRecord, SLOT_SIZE } from '../schema/layout.generated.js';
import { readU48, readU64, writeU64 } from '../base/little-endian.js';
import { copyRepeats } from '../base/repeat-copy.js';
import { ChunkError } from './chunk-error.js';
import { expandPacks } from './insn-packs.js';

/** One thread's drained run of ring records, as the agent sent it. */
export interface Chunk {
  threadId: number;
  firstSeq: number;
  recordCount: number;
  slotCount: number;
  lost: number;
  timestampNs: number;
  threadEnded: boolean;
  /** Whether the chunk as sent holds repeat records (chunksOf gives its records expanded, or with the loops it was asked to keep). */
  repeats: boolean;
  /** The records: slotCount slots of SLOT_SIZE bytes. */
  records: DataView;
}


export { ChunkError };

/** Where the chunk whose header is at `at` ends (its header read, not its records). */
function chunkEnd(view: DataView, at: number): number {
  if (view.getUint32(at + ChunkHeader.magic, true) !== CHUNK_MAGIC) throw new ChunkError('bad chunk magic', at);
  return at + ChunkHeader.size + view.getUint32(at + ChunkHeader.slotCount, true) * SLOT_SIZE;
}

/** The header of a chunk as sent: where it ends, and whether its insn records are packed (chunksOf expands them). */
type SentChunkHeader = Omit<Chunk, 'records'> & { end: number; packs: boolean };

/** The header of the chunk at `at`, and where the chunk ends (its records are not read). */
export function readChunkHeader(view: DataView, at: number): SentChunkHeader {
  const end = chunkEnd(view, at);
  return {
    threadId: view.getUint32(at + ChunkHeader.threadId, true),
    firstSeq: readU64(view, at + ChunkHeader.firstSeq),
    recordCount: view.getUint32(at + ChunkHeader.recordCount, true),
    slotCount: view.getUint32(at + ChunkHeader.slotCount, true),
    lost: readU64(view, at + ChunkHeader.lost),
    timestampNs: readU64(view, at + ChunkHeader.timestampNs),
    threadEnded: (view.getUint32(at + ChunkHeader.flags, true) & ChunkFlag.threadEnded) !== 0,
    repeats: (view.getUint32(at + ChunkHeader.flags, true) & ChunkFlag.repeats) !== 0,
    packs: (view.getUint32(at + ChunkHeader.flags, true) & ChunkFlag.packs) !== 0,
    end,
  };
}

/** The headers of the whole chunks at the start of a payload, each with where its chunk ends (records unread). */
export function* chunkHeadersOf(payload: Uint8Array): Generator<SentChunkHeader> {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  for (let at = 0; payload.byteLength - at >= ChunkHeader.size;) {
    const header = readChunkHeader(view, at);
    yield header;
    at = header.end;
  }
}

/**
 * The chunks of an events frame's payload, back to back, each with its records as the thread
 * wrote them: insnpack and repeat records expanded, and slotCount counting the slots expanded. With
 * `keepLoops`, a repeat of a group of calls, returns, execs and blocks stays a repeat record
 * right after its group, for a reader that stores a loop once (the ingest); other repeats are
 * expanded all the same.
 */
export function* chunksOf(payload: Uint8Array, keepLoops = false): Generator<Chunk> {
  let at = 0;
  for (const { end, packs, ...header } of chunkHeadersOf(payload)) {
    if (end > payload.byteLength) throw new ChunkError('chunk overruns its frame', at);
    const start = at + ChunkHeader.size;
    const sent = new DataView(payload.buffer, payload.byteOffset + start, end - start);
    const unpacked = packs ? expandPacks(sent, at) : sent;
    const records = header.repeats ? expandRepeats(unpacked, at, keepLoops) : unpacked;
    const slotCount = records.byteLength / SLOT_SIZE;
    if (header.recordCount > slotCount && !(header.repeats && keepLoops)) throw new ChunkError('chunk holds fewer slots than records', at);
    yield { ...header, slotCount, records };
    at = end;
  }
  if (at < payload.byteLength) throw new ChunkError('partial chunk header', at);
}

/** Kinds whose groups a loop repeat may keep: the ingest stores each as an event whose value is the same in every copy. */
export const LOOP_KINDS = new Set<number>([Kind.call, Kind.ret, Kind.exec, Kind.block]);

/** A kept loop's group is at most this many records (the drain's are 8 at most; the store counts a group's calls in 16 bits). */
const MAX_LOOP_RECORDS = 256;

interface Repeat {
  /** Bytes its copies add, expanded. */
  bytes: number;
  /** Where its copies end in the records as the thread wrote them. */
  end: number;
  keep: boolean;
}

/**
 * A chunk's records with each repeat record replaced by the slots before it, as many times as it
 * says (records.json, kind repeat), but for the loops `keepLoops` keeps. `at`: where the chunk
 * starts, for errors. A chunk expands to no more than a frame could have held.
 */
function expandRepeats(sent: DataView, at: number, keepLoops: boolean): DataView {
  const bytes = new Uint8Array(sent.buffer, sent.byteOffset, sent.byteLength);
  // Decided first, each repeat kept or not, and the records' size as the thread wrote them.
  const repeats: Repeat[] = [];
  // Records written since the last repeat's copies: where each starts, as written, and its kind.
  const recentStarts: number[] = [];
  let recentLoop = 0;
  let written = 0;
  for (let p = 0; p < bytes.length;) {
    if (bytes[p + RingRecord.kind] === Kind.repeat) {
      const span = readU48(sent, p + RingRecord.location) * SLOT_SIZE;
      const times = readU48(sent, p + RingRecord.target);
      if (span === 0 || span > written || times === 0) throw new ChunkError('a repeat record does not repeat records before it in its chunk', at);
      const from = written - span;
      // Repeats whose copies this group reaches into are expanded: the group's bytes must be whole before it.
      for (let k = repeats.length - 1; k >= 0 && repeats[k].end > from; k--) repeats[k].keep = false;
      const group = recentStarts.indexOf(from);
      const keep = keepLoops && group >= 0 && group >= recentLoop && recentStarts.length - group <= MAX_LOOP_RECORDS;
      written += span * times;
      repeats.push({ bytes: span * times, end: written, keep });
      recentStarts.length = 0;
      recentLoop = 0;
      p += SLOT_SIZE;
    } else {
      const length = SLOT_SIZE * (1 + bytes[p + RingRecord.aux]);
      if (p + length > bytes.length) throw new ChunkError('a record overruns its chunk', at);
      // recentLoop: the first of the recent records after which every one is of a loop's kind.
      if (!LOOP_KINDS.has(bytes[p + RingRecord.kind])) recentLoop = recentStarts.length + 1;
      recentStarts.push(written);
      written += length;
      p += length;
    }
    if (written > MAX_FRAME_LENGTH) throw new ChunkError('repeat records expand past what a frame can hold', at);
  }
  const size = repeats.reduce((total, r) => total - (r.keep ? r.bytes - SLOT_SIZE : 0), written);
  // Every repeat kept: the records are the chunk's as sent.
  if (size === bytes.length) return sent;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  let next = 0;
  for (let p = 0; p < bytes.length;) {
    if (bytes[p + RingRecord.kind] === Kind.repeat) {
      if (repeats[next++].keep) {
        out.set(bytes.subarray(p, p + SLOT_SIZE), o);
        o += SLOT_SIZE;
        p += SLOT_SIZE;
        continue;
      }
      o = copyRepeats(out, o - readU48(sent, p + RingRecord.location) * SLOT_SIZE, o, readU48(sent, p + RingRecord.target));
      p += SLOT_SIZE;
    } else {
      const length = SLOT_SIZE * (1 + bytes[p + RingRecord.aux]);
      out.set(bytes.subarray(p, p + length), o);
      o += length;
      p += length;
    }
  }
  return new DataView(out.buffer, out.byteOffset, out.byteLength);
}

/** The header chunksOf reads, for chunks written without a target (tests). */
export function writeChunkHeader(chunk: Omit<Chunk, 'records'>): Buffer {
  const b = Buffer.alloc(ChunkHeader.size);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  v.setUint32(ChunkHeader.magic, CHUNK_MAGIC, true);
  v.setUint32(ChunkHeader.threadId, chunk.threadId, true);
  writeU64(v, ChunkHeader.firstSeq, chunk.firstSeq);
  v.setUint32(ChunkHeader.recordCount, chunk.recordCount, true);
  v.setUint32(ChunkHeader.slotCount, chunk.slotCount, true);
  writeU64(v, ChunkHeader.lost, chunk.lost);
  writeU64(v, ChunkHeader.timestampNs, chunk.timestampNs);
  v.setUint32(ChunkHeader.flags, (chunk.threadEnded ? ChunkFlag.threadEnded : 0) | (chunk.repeats ? ChunkFlag.repeats : 0), true);
  return b;
}
