import { statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../base/errors.js';
import { Kind, KIND_NAMES } from '../../schema/layout.generated.js';
import type { TraceDb } from '../../store/database.js';
import { callLists, eventCursor, storedCalls, type StoredCallRow } from '../../store/stored-events.js';
import { locationNames } from '../trace-facts.js';
import { BATCH_ROWS, BooleanColumn, BytesColumn, type Column, type Fill, IntegerColumn, TextColumn, writeParquet } from './parquet-file.js';

/**
 * A trace as Parquet files, one per table, for the engines built for data past what one SQLite
 * file serves well (DuckDB, Spark, ClickHouse). Addresses are named as the views name them
 * (module!symbol+0xoff); integers are 64-bit, unsigned where they are addresses or raw register
 * and argument values; flags are booleans; times are as stored (ns since the trace started, or
 * ISO 8601 text).
 */

/** A written file: its name, rows and size in bytes. */
export interface ParquetFile {
  file: string;
  rows: number;
  bytes: number;
}

/** distinct: an integer nearly every row has its own of (sequence numbers, ids). */
type ValueKind = 'int' | 'distinct' | 'uint' | 'bool' | 'text' | 'bytes';

/** A table's columns, and what fills them a batch at a time. */
interface Source {
  columns: Column[];
  fill: Fill;
  /** Ends a read left open, so the connection can be closed after a failure. */
  close?: () => void;
}

/** A table written from a query of the analysis session, its columns in the query's order. */
interface QueryTable {
  name: string;
  sql: string;
  columns: Record<string, ValueKind>;
}

const QUERY_TABLES: QueryTable[] = [
  {
    name: 'functions',
    sql: 'SELECT * FROM functions',
    columns: { function: 'text', module: 'text', address: 'uint', calls: 'int', self_cost: 'int', total_cost: 'int' },
  },
  {
    name: 'call_graph',
    sql: 'SELECT * FROM call_graph',
    columns: { thread_id: 'int', caller: 'text', callee: 'text', calls: 'int', total_cost: 'int' },
  },
  {
    name: 'blocks',
    sql: 'SELECT * FROM block_symbols ORDER BY id',
    columns: { id: 'distinct', name: 'text', module: 'text', offset: 'int', start: 'uint', end: 'uint', size: 'int', executions: 'int', code: 'bytes' },
  },
  {
    // syscall_log's columns with the id events refer to, and when each was made.
    name: 'syscalls',
    sql: `SELECT s.id, s.thread_id, s.seq, s.time_ns, coalesce(n.name, 'syscall_' || s.nr) AS name, s.nr, s.arg0, s.arg1, s.arg2, s.arg3,
      s.arg4, s.arg5, s.ret, s.ret_seq, l.name AS location, l.address
      FROM syscalls s LEFT JOIN syscall_names n ON n.nr = s.nr JOIN locations l ON l.id = s.location_id ORDER BY s.id`,
    columns: {
      id: 'distinct', thread_id: 'int', seq: 'distinct', time_ns: 'distinct', name: 'text', nr: 'int', arg0: 'uint', arg1: 'uint', arg2: 'uint', arg3: 'uint',
      arg4: 'uint', arg5: 'uint', ret: 'int', ret_seq: 'int', location: 'text', address: 'uint',
    },
  },
  {
    name: 'syscall_strings',
    sql: 'SELECT * FROM syscall_strings',
    columns: {
      thread_id: 'int', seq: 'int', name: 'text', position: 'int', at_return: 'bool', text: 'text', data: 'bytes', truncated: 'bool', unreadable: 'bool',
    },
  },
  {
    name: 'api_calls',
    sql: 'SELECT * FROM api_log ORDER BY id',
    columns: {
      id: 'distinct', thread_id: 'int', seq: 'distinct', function: 'text', module: 'text', name: 'text', returns_to: 'text', argc: 'int', ret: 'int',
      untracked: 'bool',
    },
  },
  {
    name: 'api_arguments',
    sql: 'SELECT * FROM api_arguments',
    columns: { call_id: 'int', thread_id: 'int', seq: 'int', function: 'text', position: 'int', value: 'uint', text: 'text', text_at_return: 'text' },
  },
  {
    name: 'trace',
    sql: `SELECT capture_id, target, pid, device, arch, pointer_size, platform, frida_version, options, started_at, ended_at, end_reason,
      end_detail, cost_unit FROM trace`,
    columns: {
      capture_id: 'text', target: 'text', pid: 'int', device: 'text', arch: 'text', pointer_size: 'int', platform: 'text', frida_version: 'text',
      options: 'text', started_at: 'text', ended_at: 'text', end_reason: 'text', end_detail: 'text', cost_unit: 'text',
    },
  },
  {
    name: 'threads',
    sql: 'SELECT id, name, first_seen_ns, last_seen_ns, events, lost, missing, stall_ns, ended, insns, unrecorded_regs, unrecorded_mem FROM threads ORDER BY id',
    columns: {
      id: 'int', name: 'text', first_seen_ns: 'int', last_seen_ns: 'int', events: 'int', lost: 'int', missing: 'int', stall_ns: 'int', ended: 'bool',
      insns: 'int', unrecorded_regs: 'int', unrecorded_mem: 'int',
    },
  },
  {
    name: 'modules',
    sql: 'SELECT id, name, path, base, size, load_order, unload_order, loaded_while_recording FROM modules ORDER BY id',
    columns: { id: 'int', name: 'text', path: 'text', base: 'uint', size: 'int', load_order: 'int', unload_order: 'int', loaded_while_recording: 'bool' },
  },
];

/** Instructions (--events insn), written only for a trace that has them. */
const INSN_TABLES: QueryTable[] = [
  {
    name: 'insns',
    sql: 'SELECT * FROM insns',
    columns: { seq: 'distinct', thread_id: 'int', address: 'uint', location: 'text', size: 'int', run_seq: 'int' },
  },
  {
    // A register's value is an integer, or a vector register's bytes: one column each.
    name: 'reg_writes',
    sql: `SELECT seq, reg, CASE WHEN typeof(value) = 'integer' THEN value END AS value,
      CASE WHEN typeof(value) = 'blob' THEN value END AS bytes FROM reg_writes`,
    columns: { seq: 'distinct', reg: 'text', value: 'uint', bytes: 'bytes' },
  },
  {
    // An access of up to 8 bytes has an integer value, a wider one (and the kernel's) its bytes: one column each.
    name: 'mem_accesses',
    sql: `SELECT seq, access, address, size, CASE WHEN typeof(value) = 'integer' THEN value END AS value,
      CASE WHEN typeof(value) = 'blob' THEN value END AS bytes, syscall_id FROM mem_accesses`,
    columns: { seq: 'distinct', access: 'text', address: 'uint', size: 'int', value: 'uint', bytes: 'bytes', syscall_id: 'int' },
  },
  {
    name: 'insn_syncs',
    sql: 'SELECT * FROM insn_syncs',
    columns: { seq: 'int', thread_id: 'int', reason: 'text', reg: 'text', value: 'uint' },
  },
];

function columnOf(name: string, kind: ValueKind): Column {
  switch (kind) {
    case 'int':
    case 'distinct':
    case 'uint':
      return new IntegerColumn(name, { unsigned: kind === 'uint', distinct: kind === 'distinct' });
    case 'bool':
      return new BooleanColumn(name);
    case 'text':
      return new TextColumn(name);
    case 'bytes':
      return new BytesColumn(name);
  }
}

/** A table's rows from its query, integers exact (bigint). */
function queryTable(db: TraceDb, table: QueryTable): Source {
  const stmt = db.prepare(table.sql).raw(true).safeIntegers(true);
  const names = stmt.columns().map((c) => c.name);
  const expected = Object.keys(table.columns);
  if (names.join() !== expected.join()) throw new Error(`parquet table ${table.name}: the query gives ${names.join()}, not ${expected.join()}`);
  const columns = names.map((name) => columnOf(name, table.columns[name]));
  let rows: Iterator<unknown[]> | undefined;
  const fill = () => {
    rows ??= stmt.iterate() as Iterator<unknown[]>;
    let n = 0;
    for (let r; n < BATCH_ROWS && !(r = rows.next()).done; n++) {
      for (let c = 0; c < columns.length; c++) columns[c].put(n, r.value[c]);
    }
    return n;
  };
  return { columns, fill, close: () => rows?.return?.() };
}

/** Every location's name and address by id, so events and calls are named without a query per row. */
class Locations {
  private readonly names: string[];
  /** Address by id, as low and high 32-bit words: every bit of it, above 2^53 too. */
  private readonly words: Uint32Array;

  constructor(db: TraceDb) {
    this.names = locationNames(db);
    this.words = new Uint32Array(2 * this.names.length);
    const addresses = new BigInt64Array(this.words.buffer);
    for (const [id, address] of db.prepare('SELECT id, address FROM locations').raw().safeIntegers(true).iterate() as Iterable<[bigint, bigint]>) {
      addresses[Number(id)] = address;
    }
  }

  nameOf = (id: number): string => {
    const name = this.names[id];
    if (name === undefined) throw new UserError(`the trace database is damaged: location ${id} is used but not in its locations table`);
    return name;
  };

  putAddress(column: IntegerColumn, row: number, id: number): void {
    column.putWords(row, this.words[2 * id], this.words[2 * id + 1]);
  }
}

/** The column of the events view each kind's value belongs in: call/ret a target, the others a number. */
const VALUE_COLUMNS = ['size', 'syscall_id', 'stall_ns', 'api_call_id'] as const;
const TARGET = -1;
const valueColumn: number[] = [];
valueColumn[Kind.call] = valueColumn[Kind.ret] = TARGET;
valueColumn[Kind.block] = valueColumn[Kind.compile] = 0;
valueColumn[Kind.syscall] = valueColumn[Kind.sysret] = 1;
valueColumn[Kind.stall] = 2;
valueColumn[Kind.apicall] = valueColumn[Kind.apiret] = 3;

/** The resolved_events view: every event, decoded from its chunk and named. */
function eventsTable(db: TraceDb, locations: Locations): Source {
  const thread = new IntegerColumn('thread_id');
  const seq = new IntegerColumn('seq', { distinct: true });
  const kind = new TextColumn<number>('kind', (k) => KIND_NAMES[k]);
  const depth = new IntegerColumn('depth');
  const location = new TextColumn<number>('location', locations.nameOf);
  const address = new IntegerColumn('address', { unsigned: true });
  const target = new TextColumn<number>('target', locations.nameOf);
  const targetAddress = new IntegerColumn('target_address', { unsigned: true });
  const values = VALUE_COLUMNS.map((name) => new IntegerColumn(name));
  const cursor = eventCursor(db);
  const fill = () => {
    let n = 0;
    for (; n < BATCH_ROWS && cursor.next(); n++) {
      thread.putNumber(n, cursor.threadId);
      seq.putNumber(n, cursor.seq);
      kind.putKey(n, cursor.kindValue);
      depth.putNumber(n, cursor.depth);
      location.putKey(n, cursor.locationId);
      locations.putAddress(address, n, cursor.locationId);
      const slot = valueColumn[cursor.kindValue];
      if (slot === TARGET) {
        target.putKey(n, cursor.value);
        locations.putAddress(targetAddress, n, cursor.value);
      } else {
        target.putNull(n);
        targetAddress.putNull(n);
      }
      for (let v = 0; v < values.length; v++) {
        if (v === slot) values[v].putNumber(n, cursor.value);
        else values[v].putNull(n);
      }
    }
    return n;
  };
  return { columns: [thread, seq, kind, depth, location, address, target, targetAddress, ...values], fill };
}

/**
 * The calls view, read from the call lists callee by callee in name order: one function's calls
 * lie together, so an engine reading `WHERE callee = 'm!f'` skips the row groups of the others.
 */
function callsTable(db: TraceDb, locations: Locations): Source {
  const thread = new IntegerColumn('thread_id');
  const seq = new IntegerColumn('seq', { distinct: true });
  const depth = new IntegerColumn('depth');
  const caller = new TextColumn<number>('caller', locations.nameOf);
  const callee = new TextColumn<number>('callee', locations.nameOf);
  const site = new IntegerColumn('call_site', { unsigned: true });
  const calleeAddress = new IntegerColumn('callee_address', { unsigned: true });
  const callees = db.prepare('SELECT DISTINCT c.callee_id FROM call_lists c LEFT JOIN locations l ON l.id = c.callee_id ORDER BY l.name, c.callee_id').pluck().all() as number[];
  function* calls(): Generator<[number, StoredCallRow]> {
    for (const id of callees) {
      for (const list of callLists(db, id)) for (const call of storedCalls(list.data)) yield [id, call];
    }
  }
  const rows = calls();
  const fill = () => {
    let n = 0;
    for (let r; n < BATCH_ROWS && !(r = rows.next()).done; n++) {
      const [id, call] = r.value;
      thread.putNumber(n, call.threadId);
      seq.putNumber(n, call.seq);
      depth.putNumber(n, call.depth);
      caller.putKey(n, call.siteId);
      callee.putKey(n, id);
      locations.putAddress(site, n, call.siteId);
      locations.putAddress(calleeAddress, n, id);
    }
    return n;
  };
  return { columns: [thread, seq, depth, caller, callee, site, calleeAddress], fill };
}

/**
 * Writes every table of the trace into `dir` (which exists and is empty) as TABLE.parquet.
 * `db` is an analysis session (its views). `signal` stops it between batches.
 */
export async function writeParquetTables(db: TraceDb, dir: string, signal: AbortSignal): Promise<ParquetFile[]> {
  const locations = new Locations(db);
  const hasInsns = db.prepare('SELECT EXISTS (SELECT 1 FROM insn_chunks)').pluck().get() === 1;
  const query = (t: QueryTable): [string, () => Source] => [t.name, () => queryTable(db, t)];
  const tables: [string, () => Source][] = [
    ['events', () => eventsTable(db, locations)],
    ['calls', () => callsTable(db, locations)],
    ...QUERY_TABLES.map(query),
    ...(hasInsns ? INSN_TABLES.map(query) : []),
  ];
  const written: ParquetFile[] = [];
  for (const [name, source] of tables) {
    const file = `${name}.parquet`;
    const path = join(dir, file);
    const { columns, fill, close } = source();
    try {
      written.push({ file, rows: await writeParquet(path, columns, fill, signal), bytes: statSync(path).size });
    } finally {
      close?.();
    }
  }
  return written;
}
