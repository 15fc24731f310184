import { readFileSync } from 'node:fs';
import { packagePath } from '../base/paths.js';
import { openTraceReadOnly, type TraceDb } from '../store/database.js';
import { addEventTables } from '../store/event-tables.js';
import { addInsnTables } from '../store/insn-tables.js';
import { addRowBatches } from '../store/row-batches.js';
import { syscallNames } from '../symbols/syscall-table.js';

/**
 * Opens a trace read-only with what queries and reports use on top of the stored tables:
 * the `events`, `call_events` and instruction virtual tables over the compact storage, rows in batches, the syscall names of
 * the trace's architecture, and the documented views (schemas/sqlite/views.sql). All of it lives
 * in the connection's TEMP schema: nothing is written to the trace.
 */
export interface AnalysisDb {
  db: TraceDb;
  close(): void;
}

export function openAnalysis(path: string): AnalysisDb {
  const db = openTraceReadOnly(path);
  addEventTables(db);
  addInsnTables(db);
  addRowBatches(db);
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
      db.close();
    },
  };
}
