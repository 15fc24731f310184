import { RowBatchTag } from '../schema/layout.generated.js';
import type { TraceDb } from './database.js';
import { loadStoreExtension } from './extension.js';

/** Adds stalk_batch_open/next/close (row-batches.c) to a connection. */
export function addRowBatches(db: TraceDb): void {
  loadStoreExtension(db, 'row-batches');
}

/**
 * A batch ends at this many rows or bytes: few enough rows that they die young (V8 copies
 * survivors of its young generation), and few bytes enough that `| head` stops soon.
 */
const BATCH_ROWS = 4096;
const BATCH_BYTES = 256 << 10;

// The tags as plain constants: loaded as properties, once a column, they cost a sixth of the
// bench's 64-byte range query.
const { null: NULL, integer: INTEGER, real: REAL, text: TEXT, textAgain: TEXT_AGAIN, blob: BLOB } = RowBatchTag;

/** Past this, an integer is a BigInt, so all 64 bits are kept: a Number is exact up to 2^53 - 1. */
const SAFE_HIGH = 0x200000;

/**
 * The rows of one statement that reads, a batch at a time, each row its columns' values: NULL as
 * null, integers as numbers (BigInt past 2^53), texts as strings, blobs as Buffers sharing the batch's memory. The session
 * must have addRowBatches. Errors of the statement are thrown as better-sqlite3 throws them.
 */
export function* rowBatches(db: TraceDb, sql: string, columns: number): Generator<unknown[][]> {
  const handle = db.prepare('SELECT stalk_batch_open(?)').pluck().get(sql) as number;
  const next = db.prepare('SELECT stalk_batch_next(?, ?, ?)').pluck();
  try {
    for (;;) {
      const blob = next.get(handle, BATCH_BYTES, BATCH_ROWS) as Buffer | null;
      if (blob === null) return;
      yield decodeBatch(blob, columns);
    }
  } finally {
    db.prepare('SELECT stalk_batch_close(?)').get(handle);
  }
}

/** The rows of one batch (schemas/records.json rowBatch). */
export function decodeBatch(blob: Buffer, columns: number): unknown[][] {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const texts: string[] = [];
  const rows: unknown[][] = [];
  let at = 0;
  while (at < blob.length) {
    const row: unknown[] = new Array(columns);
    // Any value, from the start: once a query's rows held only numbers, V8 would make every later
    // row an array of doubles first and change its kind at its first string, which tripled the
    // bench's 64-byte range query when other queries had run before it.
    row[0] = null;
    for (let c = 0; c < columns; c++) {
      const tag = blob[at++];
      switch (tag) {
        case NULL:
          row[c] = null;
          break;
        case INTEGER: {
          const high = view.getInt32(at + 4, true);
          row[c] = high > -SAFE_HIGH && high < SAFE_HIGH ? high * 2 ** 32 + view.getUint32(at, true) : view.getBigInt64(at, true);
          at += 8;
          break;
        }
        case REAL:
          row[c] = view.getFloat64(at, true);
          at += 8;
          break;
        case TEXT: {
          const end = at + 4 + view.getUint32(at, true);
          texts.push(blob.toString('utf8', at + 4, end));
          row[c] = texts[texts.length - 1];
          at = end;
          break;
        }
        case TEXT_AGAIN:
          row[c] = texts[view.getUint32(at, true)];
          at += 4;
          break;
        case BLOB: {
          const length = view.getUint32(at, true);
          // A view: each batch is a Buffer of its own, which nothing else writes. Made from its
          // memory directly, a view costs about half what subarray() does.
          row[c] = Buffer.from(blob.buffer, blob.byteOffset + at + 4, length);
          at += 4 + length;
          break;
        }
        default:
          throw new Error(`row batch: unknown tag ${tag} at byte ${at - 1}`);
      }
    }
    rows.push(row);
  }
  return rows;
}
