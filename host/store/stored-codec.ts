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
  if (records.length < DEFLATE_FROM) return { codec: StoredCodec.raw, data: records };
  return { codec: StoredCodec.deflate, data: deflateRawSync(records, { level: 1 }) };
}

/**
 * An instruction chunk's codec and its register values as stored (records.json insnChunk): the
 * values, the bulk of a chunk, compressed where they are large enough; its runs and memory
 * addresses stay as they are whatever the codec, so that a scan of them has nothing to decompress
 * on the connection's thread (insn-tables.c decodes them on another).
 */
export function encodeInsnRegs(regs: Buffer): Encoded {
  const r = encodeRecords(regs);
  return { codec: r.codec === StoredCodec.deflate ? StoredCodec.deflateRegs : StoredCodec.raw, data: r.data };
}

/**
 * Fewer bytes than this are stored as they are:
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
