import type { Statement } from 'better-sqlite3';
import { nextId, type TraceDb } from './database.js';

/** Where an address resolved: module, offset in it, nearest symbol, and the name shown for it. */
export type Resolution = [moduleId: number | null, offset: number | null, symbolId: number | null, symbolOffset: number | null, name: string];

/** A location an earlier ingest stored. */
export interface LocationRow {
  id: number;
  address: number;
  moduleId: number | null;
}

/** The locations table: every address seen, once per module it was seen in. */
export class LocationWriter {
  private readonly insert: Statement;
  private readonly update: Statement;
  private nextId: number;

  constructor(private readonly db: TraceDb) {
    this.insert = db.prepare('INSERT INTO locations (id, address, module_id, offset, symbol_id, symbol_offset, name) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.update = db.prepare('UPDATE locations SET module_id = ?, offset = ?, symbol_id = ?, symbol_offset = ?, name = ? WHERE id = ?');
    this.nextId = nextId(db, 'locations');
  }

  stored(): Iterable<LocationRow> {
    return this.db.prepare('SELECT id, address, module_id AS moduleId FROM locations').iterate() as Iterable<LocationRow>;
  }

  /** Stores a new location; returns its id. */
  location(address: number, resolution: Resolution): number {
    const id = this.nextId++;
    this.insert.run(id, address, ...resolution);
    return id;
  }

  resolvedAgain(id: number, resolution: Resolution): void {
    this.update.run(...resolution, id);
  }
}
