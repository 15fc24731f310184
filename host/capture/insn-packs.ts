// insnpack records (schemas/records.json insnPack) expanded back into the insn records they
// stand for: each entry is its reference, the latest insn record of its slot, with the bytes it
// carries XORed into the reference's values.
import { InsnPack, Kind, MAX_FRAME_LENGTH, RingRecord, SLOT_SIZE } from '../schema/layout.generated.js';
import { readU48 } from '../base/little-endian.js';
import { ChunkError } from './chunk-error.js';

/** Bytes each 2-bit class carries. */
const CLASS_BYTES = InsnPack.classBytes;

/**
 * A chunk's records with every insnpack record replaced by the insn records it stands for; other
 * records, repeat records included, stay as they are. `at`: where the chunk starts, for errors.
 */
export function expandPacks(sent: DataView, at: number): DataView {
  const bytes = new Uint8Array(sent.buffer, sent.byteOffset, sent.byteLength);
  const fail = (why: string) => new ChunkError(why, at);
  let out = Buffer.allocUnsafe(bytes.length * 4);
  let o = 0;
  // Where each slot's latest insn record is in `out` (-1: none yet).
  const refs = new Array<number>(InsnPack.refSlots).fill(-1);
  const room = (n: number) => {
    if (o + n <= out.length) return;
    if (o + n > MAX_FRAME_LENGTH) throw fail('insnpack records expand past what a frame can hold');
    const larger = Buffer.allocUnsafe(Math.min(MAX_FRAME_LENGTH, Math.max(2 * out.length, o + n)));
    out.copy(larger, 0, 0, o);
    out = larger;
  };
  for (let p = 0; p < bytes.length;) {
    const kind = bytes[p + RingRecord.kind];
    const length = SLOT_SIZE * (1 + bytes[p + RingRecord.aux]);
    if (p + length > bytes.length) throw fail('a record overruns its chunk');
    if (kind !== Kind.insnpack) {
      room(length);
      out.set(bytes.subarray(p, p + length), o);
      if (kind === Kind.insn) refs[readU48(sent, p + RingRecord.target) % InsnPack.refSlots] = o;
      o += length;
      p += length;
      continue;
    }
    const count = readU48(sent, p + RingRecord.location);
    const end = p + SLOT_SIZE + readU48(sent, p + RingRecord.target);
    if (end > p + length) throw fail('an insnpack record says its entries take more than its payload');
    let e = p + SLOT_SIZE;
    for (let k = 0; k < count; k++) {
      const slot = e < end ? bytes[e] : InsnPack.refSlots;
      const ref = slot < InsnPack.refSlots ? refs[slot] : -1;
      if (ref < 0) throw fail('an insnpack entry names no earlier insn record of its chunk to go by');
      const size = SLOT_SIZE * (1 + out[ref + RingRecord.aux]);
      const words = (size - SLOT_SIZE) / 8;
      const classes = e + 1;
      let d = classes + ((words + 3) >> 2);
      room(size);
      out.copyWithin(o, ref, ref + size);
      for (let w = 0; w < words; w++) {
        const n = CLASS_BYTES[(bytes[classes + (w >> 2)] >> (2 * (w & 3))) & 3];
        const to = o + SLOT_SIZE + 8 * w;
        for (let b = 0; b < n; b++) out[to + b] ^= bytes[d + b];
        d += n;
      }
      if (d > end) throw fail('an insnpack entry overruns its record');
      refs[slot] = o;
      o += size;
      e = d;
    }
    if (e !== end) throw fail('an insnpack record holds other than the entries it counts');
    p += length;
  }
  return new DataView(out.buffer, out.byteOffset, o);
}
