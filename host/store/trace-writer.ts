import type { Statement } from 'better-sqlite3';
import type { EndMessage, TraceMessage } from '../schema/layout.generated.js';
import type { CostUnit } from '../model/cost-unit.js';
import type { TraceDb } from './database.js';

/** What an earlier ingest stored of the trace row: how it counts costs, and how far it came. */
export interface StoredTrace {
  costUnit: CostUnit;
  ingestedBytes: number;
}

/** The trace row: what was traced (the trace frame), how it ended, and how far ingest has come. */
export class TraceWriter {
  private readonly insert: Statement;
  private readonly end: Statement;
  private readonly progress: Statement;

  constructor(private readonly db: TraceDb) {
    this.insert = db.prepare(`INSERT INTO trace (id, capture_id, target, pid, device, arch, pointer_size, platform, frida_version,
      options, started_at, cost_unit) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.end = db.prepare('UPDATE trace SET ended_at = ?, end_reason = ?, end_detail = ?');
    this.progress = db.prepare('UPDATE trace SET ingested_bytes = ?');
  }

  /** The trace row an earlier ingest wrote, if one did. */
  stored(): StoredTrace | undefined {
    const row = this.db.prepare('SELECT cost_unit, ingested_bytes FROM trace').get() as { cost_unit: CostUnit; ingested_bytes: number } | undefined;
    return row && { costUnit: row.cost_unit, ingestedBytes: row.ingested_bytes };
  }

  started(captureId: string, m: TraceMessage, unit: CostUnit): void {
    this.insert.run(captureId, m.target, m.pid, m.device, m.arch, m.pointerSize, m.platform, m.fridaVersion ?? null,
      JSON.stringify(m.options), m.startedAt, unit);
  }

  ended(m: EndMessage): void {
    this.end.run(m.endedAt, m.reason, m.detail ?? null);
  }

  /** Everything before capture byte `position` is stored once the open transaction commits. */
  reached(position: number): void {
    this.progress.run(position);
  }
}
