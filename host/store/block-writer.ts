import type { Statement } from 'better-sqlite3';
import { nextId, type TraceDb } from './database.js';

/** A block an earlier ingest stored. */
export interface BlockRow {
  id: number;
  locationId: number;
  size: number;
  code: Buffer | null;
}

/** The blocks table: each block once, with its code where it was sent, and how often it ran. */
export class BlockWriter {
  private readonly insert: Statement;
  private readonly setCode: Statement;
  private readonly addExecutions: Statement;
  private nextId: number;

  constructor(private readonly db: TraceDb) {
    this.insert = db.prepare('INSERT INTO blocks (id, location_id, start, end, code) VALUES (?, ?, ?, ?, ?)');
    this.setCode = db.prepare('UPDATE blocks SET code = ? WHERE id = ?');
    this.addExecutions = db.prepare('UPDATE blocks SET executions = executions + ? WHERE id = ?');
    this.nextId = nextId(db, 'blocks');
  }

  stored(): BlockRow[] {
    return this.db.prepare('SELECT id, location_id AS locationId, end - start AS size, code FROM blocks ORDER BY id').all() as BlockRow[];
  }

  /** Stores a block, its code null where none was sent; returns its id. */
  block(locationId: number, start: number, end: number, code: Buffer | null): number {
    const id = this.nextId++;
    this.insert.run(id, locationId, start, end, code);
    return id;
  }

  code(id: number, code: Buffer): void {
    this.setCode.run(code, id);
  }

  executed(id: number, times: number): void {
    this.addExecutions.run(times, id);
  }
}
