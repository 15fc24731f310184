import type { Statement } from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { UserError } from '../base/errors.js';
import type { Output } from '../base/output.js';
import { packagePath } from '../base/paths.js';
import type { TraceDb } from '../store/database.js';
import { rowBatches } from '../store/row-batches.js';
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
  if (typeof value === 'number') return String(value);
  if (value === null || value === undefined) return format === 'table' ? 'NULL' : '';
  if (Buffer.isBuffer(value)) return format === 'table' ? `x'${value.toString('hex')}'` : value.toString('hex');
  return String(value);
}

const CSV_QUOTED = /[",\n\r]/;

/** Only a text can hold what CSV quotes. */
function csvCell(value: unknown): string {
  if (typeof value !== 'string') return cellText(value, 'csv');
  return CSV_QUOTED.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Columns are sized from this many rows; later rows are padded to them but never cut. */
const TABLE_SAMPLE = 1000;

/**
 * Runs a read-only statement and streams its rows, a batch at a time (row-batches.c): a row made
 * by better-sqlite3 costs about a microsecond, a row in a batch a small part of that. Integers
 * keep all 64 bits.
 */
export async function runQuery(db: TraceDb, sql: string, format: QueryFormat, out: Output): Promise<void> {
  const names = prepareReadOnly(db, sql).columns().map((c) => c.name);
  const batches = rowBatches(db, sql, names.length);
  const next = (): unknown[][] | undefined => {
    try {
      const r = batches.next();
      return r.done ? undefined : r.value;
    } catch (e) {
      throw sqlError(e);
    }
  };
  try {
    await writeRows(names, next, format, out);
  } finally {
    batches.return(undefined);
  }
  await out.flush();
}

/** Each batch's rows as one piece of text, so the output is written once a batch. */
async function writeRows(names: string[], next: () => unknown[][] | undefined, format: QueryFormat, out: Output): Promise<void> {
  let line: (row: unknown[]) => string;
  let rows = next();
  if (format === 'json') {
    line = (row) => toJson(Object.fromEntries(names.map((n, i) => [n, row[i]])));
  } else if (format === 'csv') {
    await out.line(names.map(csvCell).join(','));
    line = (row) => row.map(csvCell).join(',');
  } else {
    // The first rows size the columns.
    const sample: unknown[][] = [];
    while (rows !== undefined && sample.length < TABLE_SAMPLE) {
      sample.push(...rows);
      rows = next();
    }
    const cells = sample.slice(0, TABLE_SAMPLE).map((row) => row.map((v) => cellText(v, format)));
    const numeric = names.map((_, i) => cells.length > 0 && cells.every((row) => row[i] === 'NULL' || /^-?\d+(\.\d+)?$/.test(row[i])));
    const widths = names.map((n, i) => Math.max(n.length, ...cells.map((row) => row[i].length)));
    const pad = (texts: string[]) => texts.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
    await out.line(pad(names));
    await out.line(widths.map((w) => '-'.repeat(w)).join('  '));
    line = (row) => pad(row.map((v) => cellText(v, format)));
    if (sample.length > 0) await out.write(linesOf(sample, line));
  }
  for (; rows !== undefined && !out.closed; rows = next()) await out.write(linesOf(rows, line));
}

function linesOf(rows: unknown[][], line: (row: unknown[]) => string): string {
  let text = '';
  for (const row of rows) text += `${line(row)}\n`;
  return text;
}
