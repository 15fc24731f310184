import type { TraceDb } from './database.js';
import { loadStoreExtension } from './extension.js';
import { decodeCallList, decodeEventChunk } from './stored-events.js';

/**
 * Adds the events and call_events virtual tables (event-tables.c) to a connection, with the
 * functions they decode a stored blob through. Nothing is written to the trace.
 */
export function addEventTables(db: TraceDb): void {
  const options = { safeIntegers: false, directOnly: true };
  db.function('stalk_events', options, (codec, data, threadId) => decodeEventChunk(codec as number, data as Buffer, threadId as number));
  db.function('stalk_calls', options, (codec, data, calleeId) => decodeCallList(codec as number, data as Buffer, calleeId as number));
  loadStoreExtension(db, 'event-tables');
}
