import Database from 'better-sqlite3';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { UserError } from '../base/errors.js';
import { packagePath } from '../base/paths.js';
import { describeReadError, openReadOnly } from './connection.js';
import { countChunkKinds } from './chunk-kinds.js';
import { moveInsnsToChunks } from './insn-chunk-upgrade.js';
import { identify, TRACE_APPLICATION_ID, type TraceIdentity } from './trace-identity.js';
import { describeWriteError } from './write-errors.js';

export type TraceDb = Database.Database;

const MIGRATIONS_DIR = packagePath('schemas', 'sqlite');

const migrations = readdirSync(MIGRATIONS_DIR)
  .map((file) => /^(\d{4})_.*\.sql$/.exec(file))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ version: Number(m[1]), file: m[0] }))
  .sort((a, b) => a.version - b.version);

/** The schema version this code writes and reads: the highest numbered migration. */
export const SCHEMA_VERSION = migrations.at(-1)?.version ?? 0;

/** How long a writer waits for a lock: long enough for a reader to pass, not for a recording or an ingest, which hold it while they run. */
const LOCK_WAIT_MS = 1000;

/** Reads what a database is without changing anything in it or beside it. */
export function inspectTrace(path: string): TraceIdentity {
  const db = openReadOnly(path);
  try {
    return identify(db);
  } catch (e) {
    throw describeReadError(path, e);
  } finally {
    db.close();
  }
}

export function checkNotNewer(path: string, version: number): void {
  if (version > SCHEMA_VERSION) {
    throw new UserError(
      `${path} has trace schema version ${version}, newer than this stalk-trace supports (${SCHEMA_VERSION}); upgrade stalk-trace to read it`);
  }
}

const notATrace = (path: string) => `${path} is a SQLite database, but not a stalk-trace trace`;

/**
 * What an output file is, for a writer: empty, or a trace the migrations can bring up to date.
 * Anything else is refused before it is touched.
 */
export function inspectForWriting(path: string): TraceIdentity {
  const identity = inspectTrace(path);
  if (identity.kind === 'foreign') throw new UserError(`${notATrace(path)}; choose another output file`);
  if (identity.kind === 'trace') checkNotNewer(path, identity.version);
  return identity;
}

/** The schema version of a trace this stalk-trace can open; anything else is refused in one sentence. */
function traceVersion(path: string, identity: TraceIdentity): number {
  if (identity.kind === 'empty') throw new UserError(`${path} is an empty database, not a stalk-trace trace`);
  if (identity.kind === 'foreign') throw new UserError(notATrace(path));
  checkNotNewer(path, identity.version);
  return identity.version;
}

/** Refuses what readers cannot read, each in one sentence. */
function checkReadable(path: string, identity: TraceIdentity): void {
  const version = traceVersion(path, identity);
  if (version < SCHEMA_VERSION) {
    throw new UserError(`${path} is a trace from an older stalk-trace (schema version ${version}), which this one cannot read ` +
      `as it is; upgrade it in place with: stalk-trace upgrade ${path}`);
  }
  if (identity.kind === 'trace' && identity.captureId === null) {
    throw new UserError(`${path} holds no trace: the ingest that made it stopped before storing anything; ingest its capture again`);
  }
}

/** Opens a trace for reading only: nothing in the file, or beside it, can change through this connection. */
export function openTraceReadOnly(path: string): TraceDb {
  const db = openReadOnly(path);
  try {
    checkReadable(path, identify(db));
    return db;
  } catch (e) {
    db.close();
    throw describeReadError(path, e);
  }
}

/**
 * 'wal' for a trace written in place, which readers may follow and which must survive a crash;
 * 'off' for one built aside, discarded whole if anything fails.
 */
export type JournalMode = 'wal' | 'off';

/**
 * Opens a trace for writing, creating it or bringing its schema up to date. A database that is
 * not a trace, or is from a newer stalk-trace, is refused before anything in it is touched.
 * SQLite's own failures are left to the caller, who knows which name to give the file.
 */
export function openTraceForWriting(path: string, journal: JournalMode = 'wal'): TraceDb {
  if (existsSync(path)) inspectForWriting(path);
  const db = new Database(path, { timeout: LOCK_WAIT_MS });
  try {
    db.pragma(`journal_mode = ${journal === 'wal' ? 'WAL' : 'OFF'}`);
    db.pragma(`synchronous = ${journal === 'wal' ? 'NORMAL' : 'OFF'}`);
    const current = db.pragma('user_version', { simple: true }) as number;
    const pending = migrations.filter((m) => m.version > current);
    if (pending.length > 0) {
      db.transaction(() => {
        if (current === 0) db.pragma(`application_id = ${TRACE_APPLICATION_ID}`);
        for (const m of pending) {
          db.exec(readFileSync(`${MIGRATIONS_DIR}/${m.file}`, 'utf8'));
          FILLS[m.version]?.(db);
        }
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    }
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/** What a migration's SQL cannot do, run after it: by version. */
const FILLS: Record<number, (db: TraceDb) => void> = { 6: countChunkKinds, 7: moveInsnsToChunks };

/** Brings an older trace up to this stalk-trace's schema in place; returns the version it had. */
export function upgradeTrace(path: string): number {
  const version = traceVersion(path, inspectTrace(path));
  try {
    const db = openTraceForWriting(path);
    try {
      // Moving rows into a compact form (schema 7's instruction chunks) can leave most of the file
      // free: then it is compacted, as SQLite does, through a copy it swaps in at the end.
      const free = db.pragma('freelist_count', { simple: true }) as number;
      if (free * 2 > (db.pragma('page_count', { simple: true }) as number)) db.exec('VACUUM');
    } catch (e) {
      db.close();
      throw e;
    }
    closeFinished(db);
  } catch (e) {
    throw describeWriteError(path, e);
  }
  return version;
}

/** Indexes are built once the bulk of the events is in: inserting into them row by row costs more. */
export function createIndexes(db: TraceDb): void {
  db.exec(readFileSync(`${MIGRATIONS_DIR}/indexes.sql`, 'utf8'));
}

/** Leaves a trace as one self-contained file that read-only openers need not write beside. */
export function closeFinished(db: TraceDb): void {
  db.pragma('journal_mode = DELETE');
  db.close();
}

/** The id a writer gives the next row of `table`: ids continue where an earlier ingest stopped. */
export function nextId(db: TraceDb, table: string): number {
  return db.prepare(`SELECT coalesce(max(id), 0) + 1 FROM ${table}`).pluck().get() as number;
}
