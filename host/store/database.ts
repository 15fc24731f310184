import Database from 'better-sqlite3';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { UserError } from '../cli/errors.js';
import { packagePath } from '../paths.js';

export type TraceDb = Database.Database;

const MIGRATIONS_DIR = packagePath('schemas', 'sqlite');

const migrations = readdirSync(MIGRATIONS_DIR)
  .map((file) => /^(\d{4})_.*\.sql$/.exec(file))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ version: Number(m[1]), file: m[0] }))
  .sort((a, b) => a.version - b.version);

/** The schema version this code writes and reads: the highest numbered migration. */
export const SCHEMA_VERSION = migrations.at(-1)?.version ?? 0;

function describeOpenError(path: string, e: unknown): UserError {
  const code = (e as { code?: string }).code;
  if (code === 'SQLITE_NOTADB') return new UserError(`${path} is not a SQLite database`);
  if (code === 'SQLITE_CANTOPEN') return new UserError(`cannot open ${path}`);
  return new UserError(`${path}: ${(e as Error).message}`);
}

export interface TraceIdentity {
  version: number;
  /** The capture it was ingested from; null in a database that has no trace yet. */
  captureId: string | null;
  /** No tables at all: a new or zero-length file. */
  empty: boolean;
}

/** Reads what a trace file is without changing anything in it. */
export function inspectTrace(path: string): TraceIdentity {
  let db: TraceDb | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const version = db.pragma('user_version', { simple: true }) as number;
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[];
    if (version === 0 && tables.length > 0) throw new UserError(`${path} is a SQLite database, but not a stalk-trace trace`);
    const captureId = tables.includes('trace') ? db.prepare('SELECT capture_id FROM trace').pluck().get() as string | undefined : undefined;
    return { version, captureId: captureId ?? null, empty: tables.length === 0 };
  } catch (e) {
    throw e instanceof UserError ? e : describeOpenError(path, e);
  } finally {
    db?.close();
  }
}

export function checkNotNewer(path: string, version: number): void {
  if (version > SCHEMA_VERSION) {
    throw new UserError(
      `${path} has trace schema version ${version}, newer than this stalk-trace supports (${SCHEMA_VERSION}); upgrade stalk-trace to read it`);
  }
}

/** Opens a trace for reading only: nothing in the file can change through this connection. */
export function openTraceReadOnly(path: string): TraceDb {
  if (!existsSync(path)) throw new UserError(`trace database ${path} does not exist`);
  const { version, empty } = inspectTrace(path);
  if (empty) throw new UserError(`${path} is an empty database, not a stalk-trace trace`);
  checkNotNewer(path, version);
  if (version < SCHEMA_VERSION) {
    throw new UserError(`${path} has trace schema version ${version}; open it once for writing (stalk-trace ingest) to upgrade it`);
  }
  return new Database(path, { readonly: true, fileMustExist: true });
}

/**
 * Opens a trace for writing, creating it or bringing its schema up to date. A database from a
 * newer stalk-trace is refused before anything in it is touched.
 */
export function openTraceForWriting(path: string): TraceDb {
  if (existsSync(path)) checkNotNewer(path, inspectTrace(path).version);
  let db: TraceDb;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
  } catch (e) {
    throw describeOpenError(path, e);
  }
  db.pragma('synchronous = NORMAL');
  const current = db.pragma('user_version', { simple: true }) as number;
  const pending = migrations.filter((m) => m.version > current);
  if (pending.length > 0) {
    db.transaction(() => {
      for (const m of pending) db.exec(readFileSync(`${MIGRATIONS_DIR}/${m.file}`, 'utf8'));
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }
  return db;
}

/** Indexes are built once the bulk of the events is in: inserting into them row by row costs more. */
export function createIndexes(db: TraceDb): void {
  db.exec(readFileSync(`${MIGRATIONS_DIR}/indexes.sql`, 'utf8'));
}

/** Leaves a finished trace as one self-contained file that read-only openers need not write beside. */
export function closeFinished(db: TraceDb): void {
  db.pragma('journal_mode = DELETE');
  db.close();
}
