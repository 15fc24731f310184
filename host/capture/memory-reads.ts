import { MemoryRead as Layout, MEMORY_ENTRY_ALIGN, MemoryFlag, MemoryReadHeader, MEMORY_RETURN_ARG } from '../schema/layout.generated.js';
import { ChunkError } from './chunks.js';
import type { MemoryRead } from '../model/memory-read.js';

// A memory reads block (records.json memory): a header with the count, then count entries,
// each a header and its bytes padded to MEMORY_ENTRY_ALIGN.
const padded = (length: number) => Math.ceil(length / MEMORY_ENTRY_ALIGN) * MEMORY_ENTRY_ALIGN;

/** The memory reads block at `at`, which must end by `end`. */
export function readMemory(v: DataView, at: number, end: number): MemoryRead[] {
  if (at + MemoryReadHeader.size > end) throw new ChunkError('memory reads overrun their record', 0);
  const count = v.getUint32(at + MemoryReadHeader.count, true);
  const out: MemoryRead[] = [];
  let p = at + MemoryReadHeader.size;
  for (let i = 0; i < count; i++) {
    if (p + Layout.entrySize > end) throw new ChunkError('memory reads overrun their record', 0);
    const arg = v.getUint8(p + Layout.arg);
    const flags = v.getUint8(p + Layout.flags);
    const length = v.getUint16(p + Layout.length, true);
    const from = p + Layout.entrySize;
    if (from + length > end) throw new ChunkError('memory reads overrun their record', 0);
    const data = Buffer.from(v.buffer.slice(v.byteOffset + from, v.byteOffset + from + length));
    const bytes = (flags & MemoryFlag.bytes) !== 0;
    out.push({
      arg: arg === MEMORY_RETURN_ARG ? -1 : arg,
      text: bytes ? null : (flags & MemoryFlag.utf32) !== 0 ? decodeUtf32(data) : data.toString('utf8'),
      data,
      truncated: (flags & MemoryFlag.truncated) !== 0,
      unreadable: (flags & MemoryFlag.unreadable) !== 0,
    });
    p = from + padded(length);
  }
  return out;
}

/** One entry of a memory reads block as the target writes it: `flags` are MemoryFlag bits. */
export interface MemoryReadEntry {
  /** Argument index; -1: what the return value points to. */
  arg: number;
  flags: number;
  data: Uint8Array;
}

/** The memory reads block readMemory decodes, for captures written without a target (tests). */
export function writeMemory(entries: MemoryReadEntry[]): Buffer {
  const b = Buffer.alloc(entries.reduce((size: number, e) => size + Layout.entrySize + padded(e.data.length), MemoryReadHeader.size));
  b.writeUInt32LE(entries.length, MemoryReadHeader.count);
  let p: number = MemoryReadHeader.size;
  for (const e of entries) {
    b.writeUInt8(e.arg < 0 ? MEMORY_RETURN_ARG : e.arg, p + Layout.arg);
    b.writeUInt8(e.flags, p + Layout.flags);
    b.writeUInt16LE(e.data.length, p + Layout.length);
    b.set(e.data, p + Layout.entrySize);
    p += Layout.entrySize + padded(e.data.length);
  }
  return b;
}

function decodeUtf32(data: Buffer): string {
  let s = '';
  for (let i = 0; i + 4 <= data.length; i += 4) {
    const c = data.readUInt32LE(i);
    s += c <= 0x10ffff ? String.fromCodePoint(c) : '\ufffd';
  }
  return s;
}
