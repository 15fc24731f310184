import { MemoryRead, MemoryFlag, MEMORY_RETURN_ARG } from '../schema/layout.generated.js';
import { ChunkError } from '../capture/chunks.js';

/** Memory an argument pointed to, as the target read it (records.json captures). */
export interface MemoryRead {
  /** Argument index; -1: what the return value points to. */
  arg: number;
  /** A string, decoded (UTF-8, or UTF-32 for wide strings); null for bytes. */
  text: string | null;
  data: Buffer;
  truncated: boolean;
  unreadable: boolean;
}

/** The captures block at `at`, which must end by `end`. */
export function readMemory(v: DataView, at: number, end: number): MemoryRead[] {
  if (at + MemoryRead.headerSize > end) throw new ChunkError('captures overrun their record', 0);
  const count = v.getUint32(at, true);
  const out: MemoryRead[] = [];
  let p = at + MemoryRead.headerSize;
  for (let i = 0; i < count; i++) {
    if (p + MemoryRead.entrySize > end) throw new ChunkError('captures overrun their record', 0);
    const arg = v.getUint8(p + MemoryRead.arg);
    const flags = v.getUint8(p + MemoryRead.flags);
    const length = v.getUint16(p + MemoryRead.length, true);
    const from = p + MemoryRead.entrySize;
    if (from + length > end) throw new ChunkError('captures overrun their record', 0);
    const data = Buffer.from(v.buffer.slice(v.byteOffset + from, v.byteOffset + from + length));
    const bytes = (flags & MemoryFlag.bytes) !== 0;
    out.push({
      arg: arg === MEMORY_RETURN_ARG ? -1 : arg,
      text: bytes ? null : (flags & MemoryFlag.utf32) !== 0 ? decodeUtf32(data) : data.toString('utf8'),
      data,
      truncated: (flags & MemoryFlag.truncated) !== 0,
      unreadable: (flags & MemoryFlag.unreadable) !== 0,
    });
    p = from + ((length + 7) & ~7);
  }
  return out;
}

function decodeUtf32(data: Buffer): string {
  let s = '';
  for (let i = 0; i + 4 <= data.length; i += 4) {
    const c = data.readUInt32LE(i);
    s += c <= 0x10ffff ? String.fromCodePoint(c) : '\ufffd';
  }
  return s;
}
