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
 * Walks one chunk's records in place: next() moves to the following record and sets the fields,
 * so a loop over millions of records allocates nothing for them. It checks that each record fits
 * in its chunk and that the chunk holds as many records as its header says.
 */
export class RecordDecoder {
  kind = 0;
  location = 0;
  target = 0;
  /** The chunk's records; the current record's payload is bytes [payloadAt, payloadEnd). */
  view: DataView = NO_RECORDS;
  payloadAt = 0;
  payloadEnd = 0;
  private aux = 0;
  private at = 0;
  private end = 0;
  private left = 0;

  /** `callPayloads`: capture format 3 on, where calls carry a payload (callsCarryStackPointer). */
  constructor(private readonly callPayloads: boolean) {}

  start(chunk: Chunk): void {
    this.view = chunk.records;
    this.at = 0;
    this.end = chunk.slotCount * SLOT_SIZE;
    this.left = chunk.recordCount;
  }

  /** The current record's first slot in its chunk, for messages. */
  get slot(): number {
    return this.payloadAt / SLOT_SIZE - 1;
  }

  /** Refuses a payload shorter than `bytes`, all a kind needs of it. */
  payloadHolds(bytes: number): void {
    if (this.payloadAt + bytes > this.payloadEnd) throw new ChunkError('a record payload is shorter than its kind needs', 0);
  }

  next(): boolean {
    const at = this.at;
    if (at >= this.end) return this.atEnd();
    const v = this.view;
    const kind = v.getUint8(at + RingRecord.kind);
    const aux = v.getUint8(at + RingRecord.aux);
    // Before capture format 3 a call had no payload, and aux was its instruction's length.
    const end = at + (kind === Kind.call && !this.callPayloads ? 1 : 1 + aux) * SLOT_SIZE;
    if (end > this.end || this.left === 0) this.refuse(at, end);
    this.left--;
    this.kind = kind;
    this.aux = aux;
    this.location = readU48(v, at + RingRecord.location);
    this.target = readU48(v, at + RingRecord.target);
    this.payloadAt = at + SLOT_SIZE;
    this.at = this.payloadEnd = end;
    return true;
  }

  // Checks that fail are kept out of next(), so that it stays small enough to be inlined in the ingest loop.

  /** Every slot is read: the chunk must have held as many records as its header says. */
  private atEnd(): false {
    if (this.left !== 0) throw new ChunkError('chunk holds fewer records than its header says', 0);
    return false;
  }

  private refuse(at: number, end: number): never {
    if (end > this.end) throw new ChunkError(`record at slot ${at / SLOT_SIZE} overruns its chunk`, 0);
    throw new ChunkError('chunk holds more records than its header says', 0);
  }

  // A call's payload is read when asked: a field that may hold null would box every number stored in it.

  /** A call's stack pointer at the call instruction; NaN, unlike any stack pointer, before capture format 3. */
  callSp(): number {
    return this.callPayloads ? readU64(this.view, this.payloadAt + Payload.call.sp) : NaN;
  }

  /** Where a call returns to: the address after its call instruction. */
  callReturnAddress(): number {
    return this.location + (this.callPayloads ? this.view.getUint8(this.payloadAt + Payload.call.length) : this.aux);
  }

  /** A compile record's payload: the block's code, its first MAX_PAYLOAD_BYTES where it is longer. Valid while the chunk is. */
  compiledCode(): Buffer {
    return Buffer.from(this.view.buffer, this.view.byteOffset + this.payloadAt, Math.min(this.target - this.location, MAX_PAYLOAD_BYTES));
  }
}

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
