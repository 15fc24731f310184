import { CHUNK_MAGIC, ChunkHeader, SLOT_SIZE } from '../schema/layout.generated.js';

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

const TWO_32 = 4294967296;
const u64 = (v: DataView, at: number) => v.getUint32(at + 4, true) * TWO_32 + v.getUint32(at, true);

/** The chunks of an events frame's payload, back to back. */
export function* chunksOf(payload: Uint8Array): Generator<Chunk> {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 0;
  while (at < payload.byteLength) {
    if (payload.byteLength - at < ChunkHeader.size) throw new ChunkError('partial chunk header', at);
    if (view.getUint32(at + ChunkHeader.magic, true) !== CHUNK_MAGIC) throw new ChunkError('bad chunk magic', at);
    const slotCount = view.getUint32(at + ChunkHeader.slotCount, true);
    const recordCount = view.getUint32(at + ChunkHeader.recordCount, true);
    const bytes = slotCount * SLOT_SIZE;
    const start = at + ChunkHeader.size;
    if (start + bytes > payload.byteLength || recordCount > slotCount) throw new ChunkError('chunk overruns its frame', at);
    yield {
      threadId: view.getUint32(at + ChunkHeader.threadId, true),
      firstSeq: u64(view, at + ChunkHeader.firstSeq),
      recordCount,
      slotCount,
      lost: u64(view, at + ChunkHeader.lost),
      timestampNs: u64(view, at + ChunkHeader.timestampNs),
      threadEnded: (view.getUint32(at + ChunkHeader.flags, true) & 1) !== 0,
      records: new DataView(payload.buffer, payload.byteOffset + start, bytes),
    };
    at = start + bytes;
  }
}
