import { Capture, CaptureFlag, CAPTURE_RETURN_ARG } from '../format/layout.generated.js';
import { ChunkError } from './chunks.js';

/** Memory an argument pointed to, as the target read it (records.json captures). */
export interface Captured {
  /** Argument index; -1: what the return value points to. */
  arg: number;
  /** A string, decoded (UTF-8, or UTF-32 for wide strings); null for bytes. */
  text: string | null;
  data: Buffer;
  truncated: boolean;
  unreadable: boolean;
}

/** The captures block at `at`, which must end by `end`. */
export function readCaptures(v: DataView, at: number, end: number): Captured[] {
  if (at + Capture.headerSize > end) throw new ChunkError('captures overrun their record', 0);
  const count = v.getUint32(at, true);
  const out: Captured[] = [];
  let p = at + Capture.headerSize;
  for (let i = 0; i < count; i++) {
    if (p + Capture.entrySize > end) throw new ChunkError('captures overrun their record', 0);
    const arg = v.getUint8(p + Capture.arg);
    const flags = v.getUint8(p + Capture.flags);
    const length = v.getUint16(p + Capture.length, true);
    const from = p + Capture.entrySize;
    if (from + length > end) throw new ChunkError('captures overrun their record', 0);
    const data = Buffer.from(v.buffer.slice(v.byteOffset + from, v.byteOffset + from + length));
    const bytes = (flags & CaptureFlag.bytes) !== 0;
    out.push({
      arg: arg === CAPTURE_RETURN_ARG ? -1 : arg,
      text: bytes ? null : (flags & CaptureFlag.utf32) !== 0 ? decodeUtf32(data) : data.toString('utf8'),
      data,
      truncated: (flags & CaptureFlag.truncated) !== 0,
      unreadable: (flags & CaptureFlag.unreadable) !== 0,
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
