// Ring records (schemas/records.json ringRecord), read and written through the generated layout:
// the ingest decodes chunks with RecordDecoder, and test captures are written with writeRecord,
// so both sides stand on the schema rather than on copies of its offsets.
import { Kind, MAX_PAYLOAD_BYTES, Payload, RingRecord, RingRecordType, SLOT_SIZE } from '../schema/layout.generated.js';
import { readU48, readU64, writeU48 } from '../base/little-endian.js';
import { ChunkError, type Chunk } from './chunks.js';

// The reads and writes below are at these widths.
RingRecordType satisfies { location: 'u48'; kind: 'u8'; aux: 'u8'; target: 'u48'; reserved: 'u16' };

const NO_RECORDS = new DataView(new ArrayBuffer(0));

/**
 * Decodes one chunk's records into columns, a typed array per field, so the ingest's passes over
 * them allocate nothing and never box a 48-bit address into a heap number to hand it on. It
 * checks that each record fits in its chunk and that the chunk holds as many records as its
 * header says. select() makes one record current, for the kinds read from their payloads.
 */
export class RecordDecoder {
  /** Records in the chunk last decoded. */
  count = 0;
  kinds = new Uint8Array(0);
  locations = new Float64Array(0);
  targets = new Float64Array(0);
  /** A call's stack pointer, NaN (unlike any) before capture format 3; other kinds' entries are stale. */
  sps = new Float64Array(0);
  /** Where a call returns to: the address after its call instruction; other kinds' entries are stale. */
  returnAddresses = new Float64Array(0);
  /** Bytes in the chunk where each record starts and ends. */
  private starts = new Int32Array(0);
  private ends = new Int32Array(0);

  // The current record.
  kind = 0;
  location = 0;
  target = 0;
  /** The chunk's records; the current record's payload is bytes [payloadAt, payloadEnd). */
  view: DataView = NO_RECORDS;
  payloadAt = 0;
  payloadEnd = 0;

  /** `callPayloads`: capture format 3 on, where calls carry a payload (callsCarryStackPointer). */
  constructor(private readonly callPayloads: boolean) {}

  /**
   * Decodes the chunk's records into the columns; returns how many. A repeat record a chunk
   * kept (chunksOf's keepLoops) is one entry: its location is the records it repeats, right
   * before it, its target how many more times they occur.
   */
  decode(chunk: Chunk): number {
    this.view = chunk.records;
    // Every record takes a slot at least; a repeat stands for more records than its one.
    const limit = chunk.repeats ? chunk.slotCount : chunk.recordCount;
    if (this.kinds.length < limit) this.grow(Math.max(limit, this.kinds.length * 2));
    this.count = this.fill(limit, chunk.slotCount * SLOT_SIZE);
    if (this.written !== chunk.recordCount) {
      throw new ChunkError(`chunk holds ${this.written < chunk.recordCount ? 'fewer' : 'more'} records than its header says`, 0);
    }
    return this.count;
  }

  /** Records the chunk stands for, each repeat counted as the records it repeats, after decode(). */
  written = 0;

  /**
   * Decodes the chunk's records, at most `limit`, which must end at byte `end`; returns how many.
   * Nothing but the return follows the loop: V8 compiles a long loop while it first runs, before
   * any code after it has run, and code after it that had not run would throw that compiled loop
   * away at the end of every chunk.
   */
  private fill(limit: number, end: number): number {
    const { view: v, kinds, locations, targets, sps, returnAddresses, starts, ends, callPayloads } = this;
    let at = 0;
    let i = 0;
    this.written = 0;
    for (; at < end; i++) {
      if (i === limit) throw new ChunkError('chunk holds more records than its header says', 0);
      const next = this.recordEnd(at);
      if (next > end) throw new ChunkError(overruns(at), 0);
      const kind = v.getUint8(at + RingRecord.kind);
      const location = readU48(v, at + RingRecord.location);
      kinds[i] = kind;
      locations[i] = location;
      targets[i] = readU48(v, at + RingRecord.target);
      starts[i] = at;
      ends[i] = next;
      this.written++;
      // Stored apart in each branch: a number chosen between a read and NaN would be boxed.
      if (kind === Kind.call && callPayloads) {
        sps[i] = readU64(v, at + SLOT_SIZE + Payload.call.sp);
        returnAddresses[i] = location + v.getUint8(at + SLOT_SIZE + Payload.call.length);
      } else if (kind === Kind.call) {
        sps[i] = NaN;
        returnAddresses[i] = location + v.getUint8(at + RingRecord.aux);
      } else if (kind === Kind.repeat) {
        this.repeat(i);
      }
      at = next;
    }
    return i;
  }

  /** Repeat record `i`: its span from slots to the records before it, and the records it stands for. */
  private repeat(i: number): void {
    const { kinds, starts, ends } = this;
    let slots = this.locations[i] * SLOT_SIZE;
    let j = i;
    while (slots > 0 && j > 0 && kinds[j - 1] !== Kind.repeat) {
      j--;
      slots -= ends[j] - starts[j];
    }
    if (slots !== 0 || this.targets[i] === 0) throw new ChunkError(`the repeat record at slot ${starts[i] / SLOT_SIZE} does not repeat whole records before it`, 0);
    this.locations[i] = i - j;
    this.written += (i - j) * this.targets[i] - 1;
  }

  /** Where the record starting at byte `at` ends: before capture format 3 a call had no payload, and aux was its instruction's length. */
  private recordEnd(at: number): number {
    const kind = this.view.getUint8(at + RingRecord.kind);
    const slots = (kind === Kind.call && !this.callPayloads) || kind === Kind.repeat ? 1 : 1 + this.view.getUint8(at + RingRecord.aux);
    return at + slots * SLOT_SIZE;
  }

  private grow(size: number): void {
    this.kinds = new Uint8Array(size);
    this.locations = new Float64Array(size);
    this.targets = new Float64Array(size);
    this.sps = new Float64Array(size);
    this.returnAddresses = new Float64Array(size);
    this.starts = new Int32Array(size);
    this.ends = new Int32Array(size);
  }

  /** Makes record `i` of the chunk current. */
  select(i: number): void {
    this.kind = this.kinds[i];
    this.location = this.locations[i];
    this.target = this.targets[i];
    this.payloadAt = this.starts[i] + SLOT_SIZE;
    this.payloadEnd = this.ends[i];
  }

  /** The current record's first slot in its chunk, for messages. */
  get slot(): number {
    return this.payloadAt / SLOT_SIZE - 1;
  }

  /** Refuses a payload shorter than `bytes`, all a kind needs of it. */
  payloadHolds(bytes: number): void {
    if (this.payloadAt + bytes > this.payloadEnd) throw new ChunkError('a record payload is shorter than its kind needs', 0);
  }

  /** A compile record's payload: the block's code, its first MAX_PAYLOAD_BYTES where it is longer. Valid while the chunk is. */
  compiledCode(): Buffer {
    return Buffer.from(this.view.buffer, this.view.byteOffset + this.payloadAt, Math.min(this.target - this.location, MAX_PAYLOAD_BYTES));
  }
}

const overruns = (at: number) => `record at slot ${at / SLOT_SIZE} overruns its chunk`;

/** Slots a record with a payload of `bytes` takes: its own, and the payload's padded to whole slots. */
export function recordSlots(payloadBytes: number): number {
  if (payloadBytes > MAX_PAYLOAD_BYTES) throw new Error(`a record payload of ${payloadBytes} bytes is more than ${MAX_PAYLOAD_BYTES}`);
  return 1 + Math.ceil(payloadBytes / SLOT_SIZE);
}

/**
 * Writes a record and its payload at byte `at` of `into`, as the target's ring holds them: aux
 * counts the payload's slots, padded with zeros. Returns the slots written.
 */
export function writeRecord(into: DataView, at: number, kind: number, location: number, target: number, payload?: Uint8Array): number {
  const slots = recordSlots(payload?.length ?? 0);
  writeU48(into, at + RingRecord.location, location);
  into.setUint8(at + RingRecord.kind, kind);
  into.setUint8(at + RingRecord.aux, slots - 1);
  writeU48(into, at + RingRecord.target, target);
  into.setUint16(at + RingRecord.reserved, 0, true);
  if (payload) {
    const bytes = new Uint8Array(into.buffer, into.byteOffset + at + SLOT_SIZE, (slots - 1) * SLOT_SIZE);
    bytes.fill(0);
    bytes.set(payload);
  }
  return slots;
}
