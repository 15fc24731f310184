import type { Statement } from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { UserError } from '../base/errors.js';
import type { Output } from '../base/output.js';
import { packagePath } from '../base/paths.js';
import type { TraceDb } from '../store/database.js';
import { toJson } from './json.js';

export type QueryFormat = 'table' | 'csv' | 'json';

const NAMED_DIR = packagePath('schemas', 'sqlite', 'queries');

/** A query shipped in schemas/sqlite/queries/. */
export interface NamedQuery {
  description: string;
  sql: string;
}

/** The queries shipped with the tool, by name. */
export function namedQueries(): Map<string, NamedQuery> {
  return new Map(readdirSync(NAMED_DIR).filter((f) => f.endsWith('.sql')).sort().map((f) => {
    const sql = readFileSync(`${NAMED_DIR}/${f}`, 'utf8');
    const description = /^--\s*(.*)$/m.exec(sql)?.[1] ?? '';
    return [f.replace(/\.sql$/, ''), { description, sql }];
  }));
}

/** Pragmas that only describe or check the schema or the file. */
const READING_PRAGMAS = new Set([
  'table_info', 'table_xinfo', 'table_list', 'index_list', 'index_info', 'index_xinfo', 'foreign_key_list',
  'database_list', 'function_list', 'module_list', 'pragma_list', 'collation_list', 'compile_options',
  'user_version', 'schema_version', 'page_count', 'page_size', 'freelist_count', 'encoding', 'application_id',
  'integrity_check', 'quick_check', 'foreign_key_check',
]);

const stripComments = (sql: string) => sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ').trim();

/**
 * Prepares a statement that can only read: it must return rows, be read-only by SQLite's own
 * account, and a PRAGMA must be one that describes. ATTACH, DETACH, VACUUM INTO and PRAGMA
 * assignments count as read-only to SQLite (they change the connection, or another file), so
 * they are refused here.
 */
/**
 * What SQLite refused, as a sentence. A damaged trace that a virtual table found while making
 * rows is already said as it is: it is not a mistake in the SQL.
 */
function sqlError(e: unknown): UserError {
  return e instanceof UserError ? e : new UserError(`SQL error: ${(e as Error).message}`);
}

export function prepareReadOnly(db: TraceDb, sql: string): Statement {
  const text = stripComments(sql);
  if (text === '') throw new UserError('no SQL to run');
  let stmt: Statement;
  try {
    stmt = db.prepare(sql);
  } catch (e) {
    throw sqlError(e);
  }
  const pragma = /^pragma\s+(?:\w+\.)?(\w+)\s*(.*)$/is.exec(text);
  const refused = !stmt.reader || !stmt.readonly || (pragma !== null && (!READING_PRAGMAS.has(pragma[1].toLowerCase()) || pragma[2].startsWith('=')));
  if (refused) throw new UserError('query opens traces read-only: only statements that read are allowed (SELECT, WITH, EXPLAIN, describing PRAGMAs)');
  return stmt;
}

function cellText(value: unknown, format: QueryFormat): string {
  if (value === null || value === undefined) return format === 'table' ? 'NULL' : '';
  if (Buffer.isBuffer(value)) return format === 'table' ? `x'${value.toString('hex')}'` : value.toString('hex');
  return String(value);
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Columns are sized from this many rows; later rows are padded to them but never cut. */
const TABLE_SAMPLE = 1000;

/** Runs a read-only statement and streams its rows. Integers keep all 64 bits. */
export async function runQuery(db: TraceDb, sql: string, format: QueryFormat, out: Output): Promise<void> {
  const stmt = prepareReadOnly(db, sql).safeIntegers(true).raw(true);
  const names = stmt.columns().map((c) => c.name);
  let iterator: IterableIterator<unknown[]>;
  try {
    iterator = stmt.iterate() as IterableIterator<unknown[]>;
  } catch (e) {
    throw sqlError(e);
  }
  const next = (): IteratorResult<unknown[]> => {
    try {
      return iterator.next();
    } catch (e) {
      throw sqlError(e);
    }
  };
  try {
    await writeRows(names, next, format, out);
  } finally {
    iterator.return?.();
  }
  await out.flush();
}

async function writeRows(names: string[], next: () => IteratorResult<unknown[]>, format: QueryFormat, out: Output): Promise<void> {
  if (format === 'json') {
    for (let r = next(); !r.done && !out.closed; r = next()) {
      await out.line(toJson(Object.fromEntries(names.map((n, i) => [n, r.value[i]]))));
    }
  } else if (format === 'csv') {
    await out.line(names.map(csvCell).join(','));
    for (let r = next(); !r.done && !out.closed; r = next()) {
      await out.line(r.value.map((v) => csvCell(cellText(v, format))).join(','));
    }
  } else {
    const sample: string[][] = [];
    let r = next();
    for (; !r.done && sample.length < TABLE_SAMPLE; r = next()) sample.push(r.value.map((v) => cellText(v, format)));
    const numeric = names.map((_, i) => sample.length > 0 && sample.every((row) => row[i] === 'NULL' || /^-?\d+(\.\d+)?$/.test(row[i])));
    const widths = names.map((n, i) => Math.max(n.length, ...sample.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
    await out.line(line(names));
    await out.line(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const row of sample) await out.line(line(row));
    for (; !r.done && !out.closed; r = next()) await out.line(line(r.value.map((v) => cellText(v, format))));
  }
}
