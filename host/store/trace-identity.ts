import type Database from 'better-sqlite3';

/** PRAGMA application_id of every trace stalk-trace creates: the ASCII bytes "STrc". */
export const TRACE_APPLICATION_ID = 0x53547263;

/**
 * Traces made before the application id are known by their shape: these tables, and the trace
 * table with exactly the columns schema version 1 gave it.
 */
const TRACE_TABLES = ['trace', 'threads', 'locations', 'event_chunks'];
const TRACE_COLUMNS = 'id capture_id target pid device arch pointer_size platform frida_version options started_at ended_at end_reason ' +
  'end_detail cost_unit ingested_bytes';

export type TraceIdentity =
  /** Nothing in it at all: a zero-length file, or a database without a single table. */
  | { kind: 'empty' }
  /** A SQLite database of something else. */
  | { kind: 'foreign' }
  | {
    kind: 'trace';
    version: number;
    /** The capture it was ingested from; null while it holds no trace row. */
    captureId: string | null;
    /** Capture bytes stored: ingest continues after them. */
    ingestedBytes: number;
  };

function hasTraceShape(db: Database.Database, objects: string[]): boolean {
  if (!TRACE_TABLES.every((table) => objects.includes(table))) return false;
  const columns = db.prepare("SELECT name FROM pragma_table_info('trace') ORDER BY cid").pluck().all() as string[];
  return columns.join(' ') === TRACE_COLUMNS;
}

/** What a database is, read without changing anything in it. */
export function identify(db: Database.Database): TraceIdentity {
  const version = db.pragma('user_version', { simple: true }) as number;
  const application = db.pragma('application_id', { simple: true }) as number;
  const objects = db.prepare('SELECT name FROM sqlite_schema').pluck().all() as string[];
  if (objects.length === 0 && version === 0 && (application === 0 || application === TRACE_APPLICATION_ID)) return { kind: 'empty' };
  const ours = application === TRACE_APPLICATION_ID || (application === 0 && version > 0 && hasTraceShape(db, objects));
  if (!ours) return { kind: 'foreign' };
  const row = objects.includes('trace') ? db.prepare('SELECT * FROM trace').get() as Record<string, unknown> | undefined : undefined;
  return {
    kind: 'trace',
    version,
    captureId: typeof row?.capture_id === 'string' ? row.capture_id : null,
    ingestedBytes: typeof row?.ingested_bytes === 'number' ? row.ingested_bytes : 0,
  };
}
