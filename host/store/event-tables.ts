import { existsSync } from 'node:fs';
import { UserError } from '../base/errors.js';
import { packagePath } from '../base/paths.js';
import type { TraceDb } from './database.js';
import { decodeCallList, decodeEventChunk } from './stored-events.js';

/** event-tables.c, compiled by host/store/build-event-tables.mjs (found from the package, as the CLI also runs bundled). */
const EXTENSION = packagePath('dist', 'host', 'store', 'event-tables.so');

/**
 * Adds the events and call_events virtual tables (event-tables.c) to a connection, with the
 * functions they decode a stored blob through. Nothing is written to the trace.
 */
export function addEventTables(db: TraceDb): void {
  if (!existsSync(EXTENSION)) throw new UserError(`${EXTENSION} is missing: build stalk-trace with npm run build (it needs a C compiler)`);
  const options = { safeIntegers: false, directOnly: true };
  db.function('stalk_events', options, (codec, data, threadId) => decodeEventChunk(codec as number, data as Buffer, threadId as number));
  db.function('stalk_calls', options, (codec, data, calleeId) => decodeCallList(codec as number, data as Buffer, calleeId as number));
  // SQLite finds the entry point, sqlite3_eventtables_init, from the file name.
  db.loadExtension(EXTENSION);
}
