import { readFileSync } from 'node:fs';
import { packagePath } from '../base/paths.js';
import { openReadOnly } from '../store/connection.js';
import { openTraceReadOnly, type TraceDb } from '../store/database.js';
import { callLists, eventCursor, storedCalls } from '../store/stored-events.js';
import { syscallNames } from '../symbols/syscall-table.js';

/**
 * Opens a trace read-only with what queries and reports use on top of the stored tables:
 * the `events` and `call_events` virtual tables over the compact storage, the syscall names of
 * the trace's architecture, and the documented views (schemas/sqlite/views.sql). All of it lives
 * in the connection's TEMP schema: nothing is written to the trace.
 */
export interface AnalysisDb {
  db: TraceDb;
  close(): void;
}

export function openAnalysis(path: string): AnalysisDb {
  const db = openTraceReadOnly(path);
  // The virtual tables read through a second connection: one cannot run statements while it
  // is in the middle of the query that asked for their rows.
  const reader = openReadOnly(path);
  db.table('events', {
    columns: ['thread_id', 'seq', 'kind', 'depth', 'location_id', 'target_id', 'size', 'syscall_id', 'stall_ns', 'api_call_id'],
    parameters: ['thread'],
    rows: function* (thread?: unknown) {
      const cursor = eventCursor(reader, typeof thread === 'number' ? { thread } : {});
      while (cursor.next()) {
        const { kind, value } = cursor;
        yield [cursor.threadId, cursor.seq, kind, cursor.depth, cursor.locationId,
          kind === 'call' || kind === 'ret' ? value : null,
          kind === 'block' || kind === 'compile' ? value : null,
          kind === 'syscall' || kind === 'sysret' ? value : null,
          kind === 'stall' ? value : null,
          kind === 'apicall' || kind === 'apiret' ? value : null];
      }
    },
  });
  db.table('call_events', {
    columns: ['thread_id', 'seq', 'depth', 'site_id', 'callee_id'],
    parameters: ['for_callee'],
    rows: function* (callee?: unknown) {
      for (const list of callLists(reader, typeof callee === 'number' ? callee : undefined)) {
        for (const c of storedCalls(list.data)) yield [c.threadId, c.seq, c.depth, c.siteId, list.callee_id];
      }
    },
  });
  const arch = db.prepare('SELECT arch FROM trace').pluck().get() as string;
  db.exec('CREATE TEMP TABLE syscall_names (nr INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO temp.syscall_names VALUES (?, ?)');
  db.transaction(() => {
    for (const [nr, name] of syscallNames(arch)) insert.run(nr, name);
  })();
  db.exec(readFileSync(packagePath('schemas', 'sqlite', 'views.sql'), 'utf8'));
  return {
    db,
    close() {
      reader.close();
      db.close();
    },
  };
}
