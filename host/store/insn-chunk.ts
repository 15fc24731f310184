// One thread's instructions as an insn_chunks row is built (records.json insnChunk): runs,
// register writes and memory accesses appended to three byte columns as they come, with what
// the index tables and the value filter need gathered beside them. Integers wider than 32 bits
// arrive as their low and high halves: values and addresses are 64-bit patterns, and a BigInt
// per value would cost more than the rest of the encoding.
import { InsnForm, INSN_PAGE_SHIFT } from '../schema/layout.generated.js';
import { hashBytes, hashInteger } from './insn-value-filter.js';

const TWO_32 = 4294967296;

/** A growing byte column. */
class Column {
  bytes = Buffer.allocUnsafe(4096);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + n));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  byte(b: number): void {
    this.room(1);
    this.bytes[this.length++] = b;
  }

  /** A LEB128 varint of a whole number below 2^53. */
  varint(n: number): void {
    this.room(8);
    while (n >= 0x80) {
      this.bytes[this.length++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.bytes[this.length++] = n;
  }

  /** A LEB128 varint of the unsigned 64-bit integer hi:lo. */
  varint64(lo: number, hi: number): void {
    this.room(10);
    while (hi !== 0 || lo >= 0x80) {
      this.bytes[this.length++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
      hi >>>= 7;
    }
    this.bytes[this.length++] = lo;
  }

  u32(n: number): void {
    this.room(4);
    this.bytes.writeUInt32LE(n, this.length);
    this.length += 4;
  }

  copy(from: Uint8Array): void {
    this.room(from.length);
    this.bytes.set(from, this.length);
    this.length += from.length;
  }

  data(): Buffer {
    return this.bytes.subarray(0, this.length);
  }
}

/** zigzag(hi:lo - phi:plo) as a varint, 64-bit wrapping; returns false (writing nothing) where it would take more than 7 bytes. */
function deltaVarint(c: Column, lo: number, hi: number, plo: number, phi: number, always: boolean): boolean {
  let dlo = lo - plo;
  const borrow = dlo < 0 ? 1 : 0;
  dlo >>>= 0;
  const dhi = (hi - phi - borrow) | 0;
  const sign = dhi >> 31;
  const zlo = ((dlo << 1) ^ sign) >>> 0;
  const zhi = (((dhi << 1) | (dlo >>> 31)) ^ sign) >>> 0;
  // Below 2^49 a varint takes at most 7 bytes, fewer than a raw value's 8 and its form byte's.
  if (!always && zhi >= 1 << 17) return false;
  c.varint64(zlo, zhi);
  return true;
}

/** An instruction chunk being built; sealed into a row by InsnWriter. */
export class InsnChunk {
  readonly runs = new Column();
  readonly regs = new Column();
  readonly mems = new Column();
  readonly memValues = new Column();
  firstSeq = -1;
  lastSeq = -1;
  insns = 0;
  /** Writes per register id. */
  readonly regCounts = new Uint32Array(256);
  /** Memory pages touched: page -> 1 read, 2 written, 3 both. */
  readonly pages = new Map<number, number>();
  /** Hash pairs of the integer and vector values written, for the value filter. */
  hashes = new Uint32Array(2048);
  hashCount = 0;
  private runEnd = 0;
  private regSeq = 0;
  private readonly previous = new Uint32Array(512);
  private copyLo = 0;
  private copyHi = 0;
  private hasCopy = false;
  /** Per layout, each memory entry's last address in the chunk (low, high halves): the current run's in `addresses`. */
  private readonly layoutAddresses = new Map<number, Uint32Array>();
  private addresses: Uint32Array = new Uint32Array(0);

  constructor(readonly threadId: number) {}

  /** One execution of a layout's `count` instructions, the first of them `seq`; the layout has `memEntries` memory entries. */
  run(seq: number, layoutId: number, count: number, memEntries: number): void {
    if (this.firstSeq < 0) this.firstSeq = this.runEnd = this.regSeq = seq;
    this.runs.varint(seq - this.runEnd);
    this.runs.varint(layoutId);
    this.runEnd = seq + count;
    this.lastSeq = seq + count - 1;
    this.insns += count;
    let addresses = this.layoutAddresses.get(layoutId);
    if (addresses === undefined) this.layoutAddresses.set(layoutId, (addresses = new Uint32Array(2 * memEntries)));
    this.addresses = addresses;
  }

  private regHead(seq: number, reg: number, form: number): void {
    this.regs.varint(seq - this.regSeq);
    this.regSeq = seq;
    this.regs.byte(reg);
    this.regs.byte(form);
    this.regCounts[reg]++;
  }

  private hashSlot(): number {
    if (this.hashCount * 2 === this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    return 2 * this.hashCount++;
  }

  /** A register write whose value (up to 8 bytes) is the 64-bit pattern hi:lo. */
  regInteger(seq: number, reg: number, lo: number, hi: number): void {
    const plo = this.previous[2 * reg];
    const phi = this.previous[2 * reg + 1];
    if (this.hasCopy && lo === this.copyLo && hi === this.copyHi) {
      this.regHead(seq, reg, InsnForm.copy);
    } else {
      this.regHead(seq, reg, InsnForm.delta);
      if (!deltaVarint(this.regs, lo, hi, plo, phi, false)) {
        // The form byte just written: too far from the previous value for a delta to be shorter.
        this.regs.bytes[this.regs.length - 1] = InsnForm.raw;
        this.regs.u32(lo);
        this.regs.u32(hi);
      }
    }
    this.previous[2 * reg] = lo;
    this.previous[2 * reg + 1] = hi;
    this.copyLo = lo;
    this.copyHi = hi;
    this.hasCopy = true;
    hashInteger(lo, hi, this.hashes, this.hashSlot());
  }

  /** A register write of a vector register: its bytes in memory order. */
  regBytes(seq: number, reg: number, bytes: Uint8Array): void {
    this.regHead(seq, reg, InsnForm.bytes);
    this.regs.varint(bytes.length);
    this.regs.copy(bytes);
    hashBytes(bytes, this.hashes, this.hashSlot());
  }

  /** A register write whose value the record did not carry. */
  regUnrecorded(seq: number, reg: number): void {
    this.regHead(seq, reg, InsnForm.unrecorded);
  }

  /**
   * The run's memory entry `entry` (its index among the layout's memory entries, in layout order):
   * an access at the 64-bit address hi:lo; value null where the layout does not record it.
   */
  mem(entry: number, write: boolean, lo: number, hi: number, value: Uint8Array | null): void {
    const a = this.addresses;
    deltaVarint(this.mems, lo, hi, a[2 * entry], a[2 * entry + 1], true);
    a[2 * entry] = lo;
    a[2 * entry + 1] = hi;
    if (value !== null) this.memValues.copy(value);
    // Arithmetic shift of the signed 64-bit address: pages order as SQLite orders addresses.
    const page = (hi | 0) * (TWO_32 / 2 ** INSN_PAGE_SHIFT) + (lo >>> INSN_PAGE_SHIFT);
    this.pages.set(page, (this.pages.get(page) ?? 0) | (write ? 2 : 1));
  }
}
