import { CHUNK_MAGIC, ChunkFlag, ChunkHeader, SLOT_SIZE } from '../schema/layout.generated.js';
import { readU64, writeU64 } from '../base/little-endian.js';

/** One thread's drained run of ring records, as the agent sent it. */
export interface Chunk {
  threadId: number;
  firstSeq: number;
  recordCount: number;
  slotCount: number;
  lost: number;
  timestampNs: number;
  threadEnded: boolean;
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
    end,
  };
}

/** The chunks of an events frame's payload, back to back. */
export function* chunksOf(payload: Uint8Array): Generator<Chunk> {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 0;
  while (at < payload.byteLength) {
    if (payload.byteLength - at < ChunkHeader.size) throw new ChunkError('partial chunk header', at);
    const { end, ...header } = readChunkHeader(view, at);
    if (end > payload.byteLength || header.recordCount > header.slotCount) throw new ChunkError('chunk overruns its frame', at);
    const start = at + ChunkHeader.size;
    yield { ...header, records: new DataView(payload.buffer, payload.byteOffset + start, end - start) };
    at = end;
  }
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
  v.setUint32(ChunkHeader.flags, chunk.threadEnded ? ChunkFlag.threadEnded : 0, true);
  return b;
}
