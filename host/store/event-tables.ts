import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from '../base/errors.js';
import type { TraceDb } from './database.js';
import { decodeCallList, decodeEventChunk } from './stored-events.js';

/** event-tables.c, compiled beside this module by host/store/build-event-tables.mjs. */
const EXTENSION = fileURLToPath(new URL('./event-tables.so', import.meta.url));

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
