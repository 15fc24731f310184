import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import {
  Binary, Bool, Dictionary, Field, Int32, Int64, makeData, RecordBatch, Schema, Struct, Table as ArrowTable, tableToIPC, Uint64, Utf8,
  vectorFromArray, type Data, type DataType,
} from 'apache-arrow';
import { Compression, Table as WasmTable, transformParquetStream, WriterPropertiesBuilder } from 'parquet-wasm';
import { UserError } from '../../base/errors.js';

/**
 * One Parquet file written from columns filled a batch at a time: each batch becomes an Arrow
 * record batch, handed to the Parquet writer (the Rust one, as WebAssembly) through Arrow's IPC
 * format, and the file is written as its row groups complete. Memory holds a batch and the row
 * group being encoded, whatever the table's size.
 */

/** Rows per batch the columns hold. */
export const BATCH_ROWS = 65536;
/** Rows per row group: a few MiB of a trace's columns once encoded, large enough for engines to scan well. */
const ROW_GROUP_ROWS = 1 << 20;

/** A value a column cannot hold; said with the table's name. */
class WrongValue extends Error {}

/** A column's values for the batch being filled, row 0 first; every column is nullable. */
export abstract class Column {
  /** One bit per row, 1: a value; made at the first null of a batch. */
  protected valid: Uint8Array | null = null;
  protected nulls = 0;
  abstract readonly type: DataType;
  /** What a value of it is, for the sentence a value of another kind gets. */
  protected abstract readonly holds: string;

  /** Values nearly all different (sequence numbers, ids): a dictionary of them would only cost. */
  distinct = false;

  constructor(readonly name: string) {}

  putNull(row: number): void {
    this.valid ??= new Uint8Array(BATCH_ROWS >> 3).fill(0xff);
    this.valid[row >> 3] &= ~(1 << (row & 7));
    this.nulls++;
  }

  /** A value as SQLite gives it (safe integers: bigint), or null. */
  abstract put(row: number, value: unknown): void;

  /** The first `rows` rows as Arrow data; valid until the next reset. */
  abstract data(rows: number): Data;

  reset(): void {
    this.valid = null;
    this.nulls = 0;
  }

  protected bitmap() {
    return { nullBitmap: this.valid ?? undefined, nullCount: this.nulls };
  }

  /** SQLite keeps any value in any column: one of the wrong kind is damage. */
  protected refuse(value: unknown): never {
    const what = value instanceof Uint8Array ? 'bytes' : typeof value === 'string' ? `the text ${JSON.stringify(value)}` : `the value ${String(value)}`;
    throw new WrongValue(`${this.name} holds ${what} where ${this.holds} belongs`);
  }
}

/** 64-bit integers, signed or not (addresses, register values): the same bits either way. */
export class IntegerColumn extends Column {
  readonly type: Int64 | Uint64;
  protected readonly holds = 'an integer';
  private readonly words = new Uint32Array(2 * BATCH_ROWS);
  private readonly int64 = new BigInt64Array(this.words.buffer);

  constructor(name: string, { unsigned = false, distinct = false } = {}) {
    super(name);
    this.type = unsigned ? new Uint64() : new Int64();
    this.distinct = distinct;
  }

  /** A safe integer, without making a bigint: low and high 32 bits, two's complement. */
  putNumber(row: number, value: number): void {
    this.words[2 * row] = value >>> 0;
    this.words[2 * row + 1] = Math.floor(value / 4294967296);
  }

  /** Both halves as they are, for values already split (addresses read once as bigints). */
  putWords(row: number, low: number, high: number): void {
    this.words[2 * row] = low;
    this.words[2 * row + 1] = high;
  }

  put(row: number, value: unknown): void {
    if (typeof value === 'bigint') this.int64[row] = value;
    else if (typeof value === 'number' && Number.isSafeInteger(value)) this.putNumber(row, value);
    else if (value === null) this.putNull(row);
    else this.refuse(value);
  }

  data(rows: number): Data {
    const type = this.type;
    return type instanceof Uint64
      ? makeData({ type, length: rows, data: new BigUint64Array(this.words.buffer, 0, rows), ...this.bitmap() })
      : makeData({ type, length: rows, data: this.int64.subarray(0, rows), ...this.bitmap() });
  }
}

/** 0 or 1 in SQLite. */
export class BooleanColumn extends Column {
  readonly type = new Bool();
  protected readonly holds = 'a flag (0 or 1)';
  private readonly bits = new Uint8Array(BATCH_ROWS >> 3);

  put(row: number, value: unknown): void {
    if (value === null) return this.putNull(row);
    if (value !== 0n && value !== 1n && value !== 0 && value !== 1) this.refuse(value);
    if (value) this.bits[row >> 3] |= 1 << (row & 7);
    else this.bits[row >> 3] &= ~(1 << (row & 7));
  }

  data(rows: number): Data {
    return makeData({ type: this.type, length: rows, data: this.bits.subarray(0, (rows + 7) >> 3), ...this.bitmap() });
  }
}

/**
 * Text, dictionary-encoded within a batch: a trace's names repeat (the same few functions
 * millions of times), so each is encoded once per batch. Keys are whatever the source has at
 * hand, a location id or the text itself; `text` names a key the first time it comes.
 */
export class TextColumn<K = string> extends Column {
  /** Dictionary ids: unique within a file's schema. */
  private static ids = 0;
  readonly type = new Dictionary(new Utf8(), new Int32(), TextColumn.ids++);
  protected readonly holds = 'text';
  private readonly indices = new Int32Array(BATCH_ROWS);
  private readonly known = new Map<K, number>();
  private texts: string[] = [];

  constructor(name: string, private readonly text: (key: K) => string = (key) => key as string) {
    super(name);
  }

  putKey(row: number, key: K): void {
    let index = this.known.get(key);
    if (index === undefined) {
      index = this.texts.push(this.text(key)) - 1;
      this.known.set(key, index);
    }
    this.indices[row] = index;
  }

  put(row: number, value: unknown): void {
    if (value === null) this.putNull(row);
    else if (typeof value === 'string') this.putKey(row, value as K);
    else this.refuse(value);
  }

  data(rows: number): Data {
    const dictionary = vectorFromArray(this.texts, new Utf8());
    return makeData({ type: this.type, length: rows, data: this.indices.subarray(0, rows), dictionary, ...this.bitmap() });
  }

  reset(): void {
    super.reset();
    this.known.clear();
    this.texts = [];
  }
}

/** Bytes (block code, memory read in the target); rows are put in order. */
export class BytesColumn extends Column {
  readonly type = new Binary();
  protected readonly holds = 'bytes';
  private readonly offsets = new Int32Array(BATCH_ROWS + 1);
  private bytes = new Uint8Array(1 << 16);

  put(row: number, value: unknown): void {
    const at = this.offsets[row];
    if (value === null) {
      this.offsets[row + 1] = at;
      return this.putNull(row);
    }
    if (!(value instanceof Uint8Array)) this.refuse(value);
    if (at + value.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(2 * this.bytes.length, at + value.length));
      grown.set(this.bytes.subarray(0, at));
      this.bytes = grown;
    }
    this.bytes.set(value, at);
    this.offsets[row + 1] = at + value.length;
  }

  data(rows: number): Data {
    return makeData({ type: this.type, length: rows, valueOffsets: this.offsets.subarray(0, rows + 1), data: this.bytes.subarray(0, this.offsets[rows]), ...this.bitmap() });
  }
}

/** Puts up to BATCH_ROWS rows into the columns, from row 0; returns how many (0: the table is complete). */
export type Fill = () => number;

/**
 * Writes the table to `path`, a file that must not exist. `signal` stops it between batches,
 * with the signal's reason as the error. Returns the rows written.
 */
export async function writeParquet(path: string, columns: Column[], fill: Fill, signal: AbortSignal): Promise<number> {
  const fields = columns.map((column) => new Field(column.name, column.type, true));
  const schema = new Schema(fields);
  const struct = new Struct(fields);
  let rows = 0;
  let first = true;
  let failure: unknown;
  const batches = new ReadableStream({
    async pull(controller) {
      try {
        // A turn of the event loop per batch, so a signal is seen between batches.
        await setImmediate();
        signal.throwIfAborted();
        const n = fill();
        // An empty table still gets its schema: the writer learns it from a batch.
        if (n === 0 && !first) return controller.close();
        first = false;
        rows += n;
        const children = columns.map((column) => column.data(n));
        const batch = new RecordBatch(schema, makeData({ type: struct, length: n, children }));
        const ipc = tableToIPC(new ArrowTable([batch]), 'stream');
        for (const column of columns) column.reset();
        const table = WasmTable.fromIPCStream(ipc);
        for (const b of table.recordBatches()) controller.enqueue(b);
        table.free();
      } catch (e) {
        failure = e instanceof WrongValue ? new UserError(`the trace database is damaged: ${basename(path, '.parquet')}.${e.message}`) : e;
        controller.error(failure);
      }
    },
  });
  let builder = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).setMaxRowGroupSize(ROW_GROUP_ROWS).setCreatedBy('stalk-trace');
  for (const column of columns) if (column.distinct) builder = builder.setColumnDictionaryEnabled(column.name, false);
  const properties = builder.build();
  const file = await open(path, 'wx');
  try {
    for await (const bytes of await transformParquetStream(batches, properties) as AsyncIterable<Uint8Array>) {
      // A write can be short (a size limit, a full disk): the next one then says why.
      for (let at = 0; at < bytes.length;) at += (await file.write(bytes, at)).bytesWritten;
    }
    await file.sync();
  } catch (e) {
    throw failure ?? e;
  } finally {
    await file.close();
  }
  return rows;
}
