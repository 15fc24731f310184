import { CHUNK_MAGIC, ChunkFlag, ChunkHeader, Kind, MAX_FRAME_LENGTH, RingRecord, SLOT_SIZE } from '../schema/layout.generated.js';
import { readU48, readU64, writeU64 } from '../base/little-endian.js';

/** One thread's drained run of ring records, as the agent sent it. */
export interface Chunk {
  threadId: number;
  firstSeq: number;
  recordCount: number;
  slotCount: number;
  lost: number;
  timestampNs: number;
  threadEnded: boolean;
  /** Whether the chunk as sent holds repeat records (chunksOf gives its records expanded). */
  repeats: boolean;
  /** The records: slotCount slots of SLOT_SIZE bytes. */
  records: DataView;
}


export class ChunkError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

/** Where the chunk whose header is at `at` ends (its header read, not its records). */
function chunkEnd(view: DataView, at: number): number {
  if (view.getUint32(at + ChunkHeader.magic, true) !== CHUNK_MAGIC) throw new ChunkError('bad chunk magic', at);
  return at + ChunkHeader.size + view.getUint32(at + ChunkHeader.slotCount, true) * SLOT_SIZE;
}

/** The header of the chunk at `at`, and where the chunk ends (its records are not read). */
export function readChunkHeader(view: DataView, at: number): Omit<Chunk, 'records'> & { end: number } {
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
    end,
  };
}

/** The headers of the whole chunks at the start of a payload, each with where its chunk ends (records unread). */
export function* chunkHeadersOf(payload: Uint8Array): Generator<Omit<Chunk, 'records'> & { end: number }> {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  for (let at = 0; payload.byteLength - at >= ChunkHeader.size;) {
    const header = readChunkHeader(view, at);
    yield header;
    at = header.end;
  }
}

/**
 * The chunks of an events frame's payload, back to back, each with its records as the thread
 * wrote them: repeat records expanded, and slotCount counting the slots expanded.
 */
export function* chunksOf(payload: Uint8Array): Generator<Chunk> {
  let at = 0;
  for (const { end, ...header } of chunkHeadersOf(payload)) {
    if (end > payload.byteLength) throw new ChunkError('chunk overruns its frame', at);
    const start = at + ChunkHeader.size;
    const sent = new DataView(payload.buffer, payload.byteOffset + start, end - start);
    const records = header.repeats ? expandRepeats(sent, at) : sent;
    const slotCount = records.byteLength / SLOT_SIZE;
    if (header.recordCount > slotCount) throw new ChunkError('chunk holds fewer slots than records', at);
    yield { ...header, slotCount, records };
    at = end;
  }
  if (at < payload.byteLength) throw new ChunkError('partial chunk header', at);
}

/**
 * A chunk's records with each repeat record replaced by the slots before it, as many times as it
 * says (records.json, kind repeat). `at`: where the chunk starts, for errors. A chunk expands to
 * no more than a frame could have held.
 */
function expandRepeats(sent: DataView, at: number): DataView {
  const bytes = new Uint8Array(sent.buffer, sent.byteOffset, sent.byteLength);
  // What each record takes, checked first: then the copy is sized once.
  let size = 0;
  for (let p = 0; p < bytes.length;) {
    if (bytes[p + RingRecord.kind] === Kind.repeat) {
      const span = readU48(sent, p + RingRecord.location) * SLOT_SIZE;
      const times = readU48(sent, p + RingRecord.target);
      if (span === 0 || span > size || times === 0) throw new ChunkError('a repeat record does not repeat records before it in its chunk', at);
      size += span * times;
      p += SLOT_SIZE;
    } else {
      const length = SLOT_SIZE * (1 + bytes[p + RingRecord.aux]);
      if (p + length > bytes.length) throw new ChunkError('a record overruns its chunk', at);
      size += length;
      p += length;
    }
    if (size > MAX_FRAME_LENGTH) throw new ChunkError('repeat records expand past what a frame can hold', at);
  }
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (let p = 0; p < bytes.length;) {
    if (bytes[p + RingRecord.kind] === Kind.repeat) {
      // The copies so far are whole groups from `first`: copying them doubles them, a loop of thousands in a few calls.
      const first = o - readU48(sent, p + RingRecord.location) * SLOT_SIZE;
      const end = o + (o - first) * readU48(sent, p + RingRecord.target);
      while (o < end) {
        const n = Math.min(o - first, end - o);
        out.copyWithin(o, first, first + n);
        o += n;
      }
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
