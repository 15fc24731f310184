import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { StoredCodec } from '../schema/layout.generated.js';
import { UserError } from '../base/errors.js';

/** A stored blob and how it is encoded. */
export interface Encoded {
  codec: number;
  data: Buffer;
}

/**
 * Records compress well (the same kinds, locations and depths again and again): DEFLATE at its
 * fastest level stores call/ret events in about a tenth of their size and decodes at several
 * hundred MB/s, so every event stays queryable.
 */
export function encodeRecords(records: Buffer): Encoded {
  const { codec, data } = encodeTogether([records]);
  return { codec, data: data[0] };
}

/** Blobs that one codec column describes (an instruction chunk's): all stored as they are, or all compressed. */
export function encodeTogether(parts: Buffer[]): { codec: number; data: Buffer[] } {
  if (parts.reduce((n, p) => n + p.length, 0) < DEFLATE_FROM) return { codec: StoredCodec.raw, data: parts };
  return { codec: StoredCodec.deflate, data: parts.map((p) => deflateRawSync(p, { level: 1 })) };
}

/**
 * Fewer bytes than this (in one blob, or in the blobs that share a codec) are stored as they are:
 * DEFLATE sets up a quarter of a megabyte of state for each blob, far more time than a few
 * records save (a loop's chunk is a group and a repeat).
 */
const DEFLATE_FROM = 1024;

/** The records a stored blob holds; `where` names it in the sentence a damaged blob gets. */
export function decodeRecords(codec: number, data: Buffer, where: string): Buffer {
  if (codec === StoredCodec.raw) return data;
  if (codec !== StoredCodec.deflate) throw new UserError(`the trace database is damaged: ${where} is stored with unknown codec ${codec}`);
  try {
    return inflateRawSync(data);
  } catch {
    throw new UserError(`the trace database is damaged: ${where} cannot be decompressed`);
  }
}
