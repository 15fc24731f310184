import { crc32 } from 'node:zlib';
import {
  Arch, type ArchName, CAPTURE_MAGIC, CAPTURE_VERSION, CaptureHeader, FrameFlag, FrameHeader, FrameType, MAX_FRAME_LENGTH,
} from '../schema/layout.generated.js';
import { ChunkError, chunkHeadersOf } from './chunks.js';

export interface CaptureInfo {
  version: number;
  arch: ArchName;
  pointerSize: number;
  captureId: string;
}

export type FrameTypeName = keyof typeof FrameType;

const ARCH_NAMES = Object.fromEntries(Object.entries(Arch).map(([k, v]) => [v, k as ArchName]));
const FRAME_TYPE_NAMES = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k as FrameTypeName]));

export function encodeCaptureHeader(info: Omit<CaptureInfo, 'version'>): Buffer {
  const b = Buffer.alloc(CaptureHeader.size);
  b.write(CAPTURE_MAGIC, CaptureHeader.magic, 'latin1');
  b.writeUInt16LE(CAPTURE_VERSION, CaptureHeader.version);
  b.writeUInt8(Arch[info.arch], CaptureHeader.arch);
  b.writeUInt8(info.pointerSize, CaptureHeader.pointerSize);
  b.writeUInt32LE(CaptureHeader.size, CaptureHeader.headerSize);
  Buffer.from(info.captureId, 'hex').copy(b, CaptureHeader.captureId);
  return b;
}

/** Version 2 captures still ingest: their call records have no payload (aux was the call's length). */
const OLDEST_READ_VERSION = 2;

/** Whether this capture's call records carry the stack-pointer payload (version 3 on). */
export const callsCarryStackPointer = (info: CaptureInfo) => info.version >= 3;

/** Returns the header, or a reason why these bytes are not a capture this code reads. */
export function decodeCaptureHeader(b: Buffer): CaptureInfo | string {
  if (b.length < CaptureHeader.size || b.toString('latin1', CaptureHeader.magic, CaptureHeader.magic + 8) !== CAPTURE_MAGIC) {
    return 'not a stalk-trace capture file (bad magic)';
  }
  const version = b.readUInt16LE(CaptureHeader.version);
  if (version > CAPTURE_VERSION) {
    return `capture format version ${version} is newer than this stalk-trace reads (${CAPTURE_VERSION}); upgrade stalk-trace`;
  }
  if (version < OLDEST_READ_VERSION) {
    return `capture format version ${version} predates syscall and library-call memory records; ingest it with the stalk-trace that recorded it`;
  }
  const arch = ARCH_NAMES[b.readUInt8(CaptureHeader.arch)];
  const pointerSize = b.readUInt8(CaptureHeader.pointerSize);
  if (!arch || pointerSize !== 8) return 'capture header names an unknown architecture';
  return { version, arch, pointerSize, captureId: b.toString('hex', CaptureHeader.captureId, CaptureHeader.captureId + 16) };
}

function headerCheck(b: Buffer, offset: number): number {
  return crc32(b.subarray(offset, offset + FrameHeader.headerCheck)) & 0xffff;
}

export function encodeFrameHeader(type: FrameTypeName, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(FrameHeader.size);
  b.writeUInt32LE(payload.length, FrameHeader.length);
  b.writeUInt8(FrameType[type], FrameHeader.type);
  b.writeUInt16LE(headerCheck(b, 0), FrameHeader.headerCheck);
  b.writeUInt32LE(crc32(payload), FrameHeader.payloadCrc);
  return b;
}

export interface FrameHeaderFields {
  type: FrameTypeName;
  length: number;
  payloadCrc: number;
  /** Appended by the agent itself: no CRC, its chunks are checked instead (capture.json frameFlags). */
  unchecked: boolean;
}

/** Decodes a frame header at `offset` in `b`; a string says what is wrong with it. */
export function decodeFrameHeader(b: Buffer, offset: number): FrameHeaderFields | string {
  if (b.readUInt16LE(offset + FrameHeader.headerCheck) !== headerCheck(b, offset)) return 'frame header checksum mismatch';
  const type = FRAME_TYPE_NAMES[b.readUInt8(offset + FrameHeader.type)];
  if (!type) return `unknown frame type ${b.readUInt8(offset + FrameHeader.type)}`;
  const flags = b.readUInt8(offset + FrameHeader.flags);
  if ((flags & ~FrameFlag.unchecked) !== 0 || (flags !== 0 && type !== 'events')) return `unknown frame flags ${flags} (${type} frame)`;
  const length = b.readUInt32LE(offset + FrameHeader.length);
  if (length > MAX_FRAME_LENGTH) return `frame length ${length} exceeds the format's limit`;
  return { type, length, payloadCrc: b.readUInt32LE(offset + FrameHeader.payloadCrc), unchecked: flags !== 0 };
}

/** Whether the payload is what its header says: its CRC, or for an unchecked frame, whole chunks filling it exactly. */
export function payloadMatches(payload: Uint8Array, header: FrameHeaderFields): boolean {
  if (!header.unchecked) return crc32(payload) === header.payloadCrc;
  let at = 0;
  try {
    for (const chunk of chunkHeadersOf(payload)) at = chunk.end;
  } catch (e) {
    if (e instanceof ChunkError) return false;
    throw e;
  }
  return at === payload.byteLength;
}
