import type { TraceDb } from '../store/database.js';
import type { ApiCallRow } from './api-text.js';
import type { SyscallRow } from './syscall-text.js';
import type { MemoryRow } from './values.js';

/** A page at a time, in thread and sequence order, so no statement stays open between pages. */
const PAGE = 2000;

export interface StoredSyscall extends SyscallRow {
  id: number;
  thread_id: number;
  seq: number;
  memory: MemoryRow[];
}

/** The ids of a batch, given as one JSON array parameter. */
const EACH = '(SELECT value FROM json_each(?))';

function groupBy<K extends string, T extends { [k in K]: number | bigint }>(rows: T[], key: K): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const r of rows) {
    const k = Number(r[key]);
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(r);
  }
  return out;
}

type Row = Record<string, bigint | string | null>;
type SyscallDbRow = Record<string, bigint | null>;

/**
 * The rows of `select` (whose table has thread_id and seq, under `alias`) in `keys` order (thread
 * and sequence by default), or one thread's, a page at a time, each page completed by `complete`.
 */
function* pages<R extends Row, T>(db: TraceDb, select: string, alias: string, thread: number | undefined, complete: (rows: R[]) => T[],
  keys = ['thread_id', 'seq']): Generator<T> {
  const columns = keys.map((k) => `${alias}${k}`).join(', ');
  const page = db.prepare(`${select} WHERE (${columns}) > (${keys.map(() => '?').join(', ')}) ${thread === undefined ? '' : `AND ${alias}thread_id = ?`}
    ORDER BY ${columns} LIMIT ${PAGE}`).safeIntegers(true);
  let after: (bigint | string | number | null)[] = keys.map(() => -1);
  for (;;) {
    const rows = page.all(...after, ...(thread === undefined ? [] : [thread])) as R[];
    if (rows.length === 0) return;
    yield* complete(rows);
    const last = rows[rows.length - 1];
    after = keys.map((k) => last[k]);
  }
}

/** A lookup of one row of `select` by id, completed by `complete`. */
function byId<R extends Row, T>(db: TraceDb, select: string, alias: string, complete: (rows: R[]) => T[]): (id: number) => T | undefined {
  const one = db.prepare(`${select} WHERE ${alias}id = ?`).safeIntegers(true);
  return (id) => {
    const row = one.get(id) as R | undefined;
    return row === undefined ? undefined : complete([row])[0];
  };
}

const API_CALLS = `SELECT c.id, c.thread_id, c.seq, f.module, f.name, r.module_id AS return_module_id, r.offset AS return_offset,
    r.address AS return_address, c.ret, c.untracked
  FROM api_calls c JOIN api_functions f ON f.id = c.function_id JOIN locations r ON r.id = c.return_id`;

type ApiCallBase = Omit<ApiCallRow, 'args' | 'memory'>;

/** Calls with their arguments and memory, read for a batch of call ids at once. */
function completeApiCalls(db: TraceDb, calls: ApiCallBase[]): ApiCallRow[] {
  if (calls.length === 0) return [];
  const ids = JSON.stringify(calls.map((c) => c.id));
  const args = groupBy(db.prepare(`SELECT call_id, position, value FROM api_args WHERE call_id IN ${EACH} ORDER BY call_id, position`)
    .safeIntegers(true).all(ids) as { call_id: bigint; position: bigint; value: bigint }[], 'call_id');
  const memory = groupBy(db.prepare(`SELECT call_id, position, at_return, text, data, truncated, unreadable FROM api_memory
    WHERE call_id IN ${EACH}`).all(ids) as (MemoryRow & { call_id: number })[], 'call_id');
  return calls.map((c) => ({
    ...c,
    args: (args.get(c.id) ?? []).map((a) => a.value),
    memory: memory.get(c.id) ?? [],
  }));
}

/** Every library call of the trace (or of one thread), in thread and sequence order. */
export const apiCalls = (db: TraceDb, thread?: number): Generator<ApiCallRow> =>
  pages(db, API_CALLS, 'c.', thread, (rows: Row[]) => completeApiCalls(db, rows.map(fromSafe)));

/** One call by id, or undefined. */
export const apiCallById = (db: TraceDb) => byId(db, API_CALLS, 'c.', (rows: Row[]) => completeApiCalls(db, rows.map(fromSafe)));

/** Row values read as BigInt (so 64-bit returns stay exact), back to numbers where they are ids and offsets. */
function fromSafe(row: Row): ApiCallBase {
  const n = (v: bigint | string | null) => (v === null ? null : Number(v));
  return {
    id: n(row.id)!, thread_id: n(row.thread_id)!, seq: n(row.seq)!, module: row.module as string, name: row.name as string,
    return_module_id: n(row.return_module_id), return_offset: n(row.return_offset), return_address: n(row.return_address)!,
    ret: row.ret as bigint | null, untracked: n(row.untracked)!,
  };
}

const SYSCALLS = 'SELECT id, thread_id, seq, nr, arg0, arg1, arg2, arg3, arg4, arg5, ret, time_ns FROM syscalls';

function completeSyscalls(db: TraceDb, rows: SyscallDbRow[]): StoredSyscall[] {
  if (rows.length === 0) return [];
  const ids = JSON.stringify(rows.map((r) => Number(r.id)));
  const memory = groupBy(db.prepare(`SELECT syscall_id, position, at_return, text, data, truncated, unreadable FROM syscall_memory
    WHERE syscall_id IN ${EACH}`).all(ids) as (MemoryRow & { syscall_id: number })[], 'syscall_id');
  return rows.map((r) => ({
    id: Number(r.id), thread_id: Number(r.thread_id), seq: Number(r.seq), nr: r.nr!,
    args: [r.arg0, r.arg1, r.arg2, r.arg3, r.arg4, r.arg5].map((a) => a ?? 0n), ret: r.ret,
    memory: memory.get(Number(r.id)) ?? [],
  }));
}

/**
 * Every syscall of the trace (or of one thread): in the order they were made, threads
 * interleaved as strace shows them, where the trace knows when (capture format 3 on); in
 * thread and sequence order otherwise.
 */
export function syscalls(db: TraceDb, thread?: number): Generator<StoredSyscall> {
  const timed = db.prepare('SELECT NOT EXISTS (SELECT 1 FROM syscalls WHERE time_ns IS NULL)').pluck().get() === 1;
  return pages(db, SYSCALLS, '', thread, (rows: SyscallDbRow[]) => completeSyscalls(db, rows), timed ? ['time_ns', 'thread_id', 'seq'] : undefined);
}

export const syscallById = (db: TraceDb) => byId(db, SYSCALLS, '', (rows: SyscallDbRow[]) => completeSyscalls(db, rows));
