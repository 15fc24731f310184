// --events insn (schemas/records.json insnLayout): an insnlayout record describes a run of
// instructions once, and each insn record of that run carries only the values the layout places.
// Read and written here through the generated offsets, so ingest and test captures agree.
import { InsnEntryFlag, InsnLayoutEntry, InsnLayoutHeader, INSN_LENGTHS_ALIGN, INSN_MAX_VALUE_BYTES, InsnWhat } from '../schema/layout.generated.js';
import { writeU64 } from '../base/little-endian.js';
import type { RegisterSet } from '../model/registers.js';
import { ChunkError } from './chunks.js';

/** One value an insn record carries: a register an instruction wrote, or a memory access it made. */
export interface InsnEntry {
  /** The instruction's index in the run. */
  insn: number;
  /** One of InsnWhat. */
  what: number;
  /** what = reg: the register's id in the arch's RegisterSet. */
  reg: number;
  /** The value is not in the record (too wide, or a form the target does not read); a memory entry still has its address. */
  unrecorded: boolean;
  /** The value's size in bytes: a register's width, a memory access's size. */
  bytes: number;
  /** Where its bytes start in an insn record's payload. */
  offset: number;
}

/** A run of instructions, as its insnlayout record describes it. */
export interface InsnLayout {
  id: number;
  /** The run's first instruction. */
  address: number;
  /** Each instruction's length; instruction i is at address + the lengths before it. */
  lengths: Uint8Array;
  entries: InsnEntry[];
  /** Payload bytes of each insn record of the run. */
  valuesSize: number;
}

const pad = (n: number) => Math.ceil(n / INSN_LENGTHS_ALIGN) * INSN_LENGTHS_ALIGN;

const MEMORY_ADDRESS_BYTES = 8;
const isMemory = (what: number) => what === InsnWhat.memRead || what === InsnWhat.memWrite;

/** Bytes an entry takes in an insn record: a register's value, a memory access's address and padded value. */
function extent(e: Omit<InsnEntry, 'offset'>): number {
  if (isMemory(e.what)) return MEMORY_ADDRESS_BYTES + (e.unrecorded ? 0 : pad(e.bytes));
  return e.unrecorded ? 0 : e.bytes;
}

function refuse(layoutId: number, reason: string): never {
  throw new ChunkError(`instruction layout ${layoutId} ${reason}`, 0);
}

/** The insnlayout record `id` whose payload is bytes [at, end) of `v`; malformed layouts are refused. */
export function readInsnLayout(v: DataView, at: number, end: number, id: number, address: number, registers: RegisterSet): InsnLayout {
  if (at + InsnLayoutHeader.size > end) refuse(id, 'is shorter than its header');
  const insnCount = v.getUint16(at + InsnLayoutHeader.insnCount, true);
  const entryCount = v.getUint16(at + InsnLayoutHeader.entryCount, true);
  const valuesSize = v.getUint16(at + InsnLayoutHeader.valuesSize, true);
  const lengthsAt = at + InsnLayoutHeader.size;
  const entriesAt = lengthsAt + pad(insnCount);
  if (entriesAt + entryCount * InsnLayoutEntry.size > end) refuse(id, `says ${insnCount} instructions and ${entryCount} entries, more than its record holds`);
  const lengths = new Uint8Array(insnCount);
  for (let i = 0; i < insnCount; i++) {
    lengths[i] = v.getUint8(lengthsAt + i);
    if (lengths[i] === 0) refuse(id, `gives instruction ${i} no length`);
  }
  const entries: InsnEntry[] = [];
  for (let i = 0; i < entryCount; i++) {
    const p = entriesAt + i * InsnLayoutEntry.size;
    const e: InsnEntry = {
      insn: v.getUint8(p + InsnLayoutEntry.insn),
      what: v.getUint8(p + InsnLayoutEntry.what),
      reg: v.getUint8(p + InsnLayoutEntry.reg),
      unrecorded: (v.getUint8(p + InsnLayoutEntry.flags) & InsnEntryFlag.unrecorded) !== 0,
      bytes: v.getUint16(p + InsnLayoutEntry.bytes, true),
      offset: v.getUint16(p + InsnLayoutEntry.offset, true),
    };
    if (e.insn >= insnCount) refuse(id, `entry ${i} names instruction ${e.insn} of a run of ${insnCount}`);
    if (e.what === InsnWhat.reg) {
      const size = registers.sizes[e.reg];
      if (size === undefined) refuse(id, `entry ${i} names register id ${e.reg}, which the arch does not define`);
      if (!e.unrecorded && e.bytes !== size) refuse(id, `entry ${i} gives register ${registers.names[e.reg]} ${e.bytes} bytes, not its ${size}`);
    } else if (!isMemory(e.what)) refuse(id, `entry ${i} is of unknown kind ${e.what}`);
    else if (!e.unrecorded && e.bytes > INSN_MAX_VALUE_BYTES) refuse(id, `entry ${i} carries ${e.bytes} bytes, more than ${INSN_MAX_VALUE_BYTES}`);
    if (e.offset + extent(e) > valuesSize) refuse(id, `entry ${i} lies beyond the ${valuesSize} bytes of values its records carry`);
    entries.push(e);
  }
  return { id, address, lengths, entries, valuesSize };
}

/** Address of each instruction of a run. */
export function insnAddresses(layout: InsnLayout): number[] {
  const out: number[] = [];
  let address = layout.address;
  for (const length of layout.lengths) {
    out.push(address);
    address += length;
  }
  return out;
}

/** An entry as a test capture describes it: offsets and the values size are worked out by writeInsnLayout. */
export type InsnEntrySpec = Omit<InsnEntry, 'offset'>;

/** The insnlayout payload for `lengths` and `entries`, with each entry placed after the one before. */
export function writeInsnLayout(lengths: number[], entries: InsnEntrySpec[]): { payload: Buffer; entries: InsnEntry[]; valuesSize: number } {
  let valuesSize = 0;
  const placed = entries.map((e) => {
    const entry = { ...e, offset: valuesSize };
    valuesSize += pad(extent(e));
    return entry;
  });
  const entriesAt = InsnLayoutHeader.size + pad(lengths.length);
  const payload = Buffer.alloc(entriesAt + placed.length * InsnLayoutEntry.size);
  payload.writeUInt16LE(lengths.length, InsnLayoutHeader.insnCount);
  payload.writeUInt16LE(placed.length, InsnLayoutHeader.entryCount);
  payload.writeUInt16LE(valuesSize, InsnLayoutHeader.valuesSize);
  lengths.forEach((l, i) => payload.writeUInt8(l, InsnLayoutHeader.size + i));
  placed.forEach((e, i) => {
    const p = entriesAt + i * InsnLayoutEntry.size;
    payload.writeUInt8(e.insn, p + InsnLayoutEntry.insn);
    payload.writeUInt8(e.what, p + InsnLayoutEntry.what);
    payload.writeUInt8(e.reg, p + InsnLayoutEntry.reg);
    payload.writeUInt8(e.unrecorded ? InsnEntryFlag.unrecorded : 0, p + InsnLayoutEntry.flags);
    payload.writeUInt16LE(e.bytes, p + InsnLayoutEntry.bytes);
    payload.writeUInt16LE(e.offset, p + InsnLayoutEntry.offset);
  });
  return { payload, entries: placed, valuesSize };
}

/** One entry's value for writeInsnValues: a register's (integer, or bytes for a vector), or a memory access's address and bytes. */
export type InsnValueSpec = bigint | Buffer | { address: number; data?: Buffer };

/** The insn payload carrying `values`, one per entry of the layout, each at its entry's offset. */
export function writeInsnValues(entries: InsnEntry[], valuesSize: number, values: InsnValueSpec[]): Buffer {
  const b = Buffer.alloc(valuesSize);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  entries.forEach((e, i) => {
    const value = values[i];
    if (typeof value === 'bigint') {
      if (!e.unrecorded) b.writeBigUInt64LE(BigInt.asUintN(64, value), e.offset);
    } else if (Buffer.isBuffer(value)) {
      if (!e.unrecorded) value.copy(b, e.offset);
    } else {
      writeU64(v, e.offset, value.address);
      if (!e.unrecorded && value.data) value.data.copy(b, e.offset + MEMORY_ADDRESS_BYTES);
    }
  });
  return b;
}

/** Bytes of a memory entry's address before its value. */
export { MEMORY_ADDRESS_BYTES };
