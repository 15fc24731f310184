import { Kind, SLOT_SIZE } from '../schema/layout.generated.js';
import { LOOP_KINDS, type Chunk } from '../capture/chunks.js';
import { RecordDecoder } from '../capture/ring-records.js';

/** Chunks are joined while the records they hold take fewer slots than this (a ring block's worth)... */
const JOIN_SLOTS = 4096;
/** ...and stand for fewer events than this, which a reader expands in one piece. */
const JOIN_EVENTS = 1 << 20;

/**
 * Consecutive chunks of one thread, joined into one: a thread in a loop sends a small chunk per
 * ring block (its group and a repeat), and each chunk stored apart would cost a row, its SQL
 * statements and a pass of the ingest. Only chunks that carry on where the run ends are
 * joined, so gaps and chunks sent twice reach the ingest as they came. A run may take chunks
 * from several frames: the ingest stores it before anything that changes how its records
 * resolve (a meta frame) and before a commit. So that damage is still found in the frame that
 * holds it, a chunk joins only once it has decoded whole, and only with records that cannot
 * fail to store: calls, returns, execs, blocks and their repeats.
 */
export class ChunkRun {
  private readonly check: RecordDecoder;
  private chunks: Chunk[] = [];
  private slots = 0;
  private events = 0;
  /** Chunks before this one hold records of their own, copied from their frames. */
  private owned = 0;

  /** `callPayloads`: as RecordDecoder's. */
  constructor(callPayloads: boolean) {
    this.check = new RecordDecoder(callPayloads);
  }

  /** Whether `chunk` may join a run; a chunk that does not decode throws the decoder's ChunkError. */
  joinable(chunk: Chunk): boolean {
    if (chunk.recordCount === 0 || chunk.slotCount >= JOIN_SLOTS) return false;
    const count = this.check.decode(chunk);
    const { kinds } = this.check;
    for (let i = 0; i < count; i++) if (!LOOP_KINDS.has(kinds[i]) && kinds[i] !== Kind.repeat) return false;
    return true;
  }

  /** Whether `chunk` carries on this run's thread and sequence, with room left. */
  continues(chunk: Chunk): boolean {
    const last = this.chunks.at(-1);
    return this.open && chunk.threadId === last!.threadId && chunk.firstSeq === last!.firstSeq + last!.recordCount &&
      this.slots + chunk.slotCount < JOIN_SLOTS && this.events + chunk.recordCount < JOIN_EVENTS;
  }

  add(chunk: Chunk): void {
    this.chunks.push(chunk);
    this.slots += chunk.slotCount;
    this.events += chunk.recordCount;
  }

  get empty(): boolean {
    return this.chunks.length === 0;
  }

  /** Whether a chunk could still join: room left, and its thread not ended. */
  get open(): boolean {
    const last = this.chunks.at(-1);
    return last !== undefined && !last.threadEnded && this.slots < JOIN_SLOTS && this.events < JOIN_EVENTS;
  }

  /** Copies the run's records out of the frame they came in, whose buffer the capture reader uses again. */
  own(): void {
    for (; this.owned < this.chunks.length; this.owned++) {
      const c = this.chunks[this.owned];
      const copy = Buffer.from(new Uint8Array(c.records.buffer, c.records.byteOffset, c.records.byteLength));
      this.chunks[this.owned] = { ...c, records: new DataView(copy.buffer, copy.byteOffset, copy.byteLength) };
    }
  }

  clear(): void {
    this.chunks = [];
    this.slots = this.events = this.owned = 0;
  }

  /** The run as one chunk, drained when its first chunk was, and when its last one was; the run starts again empty. */
  take(): { chunk: Chunk; lastTimestampNs: number } {
    const { chunks } = this;
    const first = chunks[0];
    const last = chunks[chunks.length - 1];
    this.clear();
    if (chunks.length === 1) return { chunk: first, lastTimestampNs: first.timestampNs };
    const bytes = Buffer.allocUnsafe(chunks.reduce((n, c) => n + c.slotCount * SLOT_SIZE, 0));
    let at = 0;
    for (const c of chunks) {
      bytes.set(new Uint8Array(c.records.buffer, c.records.byteOffset, c.slotCount * SLOT_SIZE), at);
      at += c.slotCount * SLOT_SIZE;
    }
    return {
      chunk: {
        threadId: first.threadId, firstSeq: first.firstSeq, recordCount: chunks.reduce((n, c) => n + c.recordCount, 0),
        slotCount: bytes.length / SLOT_SIZE, lost: last.lost, timestampNs: first.timestampNs, threadEnded: last.threadEnded,
        repeats: chunks.some((c) => c.repeats), records: new DataView(bytes.buffer, bytes.byteOffset, bytes.length),
      },
      lastTimestampNs: last.timestampNs,
    };
  }
}
