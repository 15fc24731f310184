import type { Statement } from 'better-sqlite3';
import { nextId, type TraceDb } from './database.js';

/** A module an earlier ingest stored, with its symbols as [offset, size, name, id]. */
export interface ModuleRow {
  id: number;
  name: string;
  path: string;
  base: number;
  size: number;
  loadOrder: number;
  unloadOrder: number | null;
}

export type SymbolRow = readonly [offset: number, size: number, name: string, id: number];

/** The modules and symbols tables: each load of a module, and the symbols it had. */
export class ModuleWriter {
  private readonly insertModule: Statement;
  private readonly insertSymbol: Statement;
  private readonly markUnloaded: Statement;
  private nextModuleId: number;
  private nextSymbolId: number;

  constructor(private readonly db: TraceDb) {
    this.insertModule = db.prepare('INSERT INTO modules (id, name, path, base, size, load_order, loaded_while_recording) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insertSymbol = db.prepare('INSERT INTO symbols (id, module_id, name, offset, size) VALUES (?, ?, ?, ?, ?)');
    this.markUnloaded = db.prepare('UPDATE modules SET unload_order = ? WHERE id = ?');
    this.nextModuleId = nextId(db, 'modules');
    this.nextSymbolId = nextId(db, 'symbols');
  }

  /** In load order. */
  stored(): ModuleRow[] {
    return this.db.prepare(`SELECT id, name, path, base, size, load_order AS loadOrder, unload_order AS unloadOrder
      FROM modules ORDER BY load_order`).all() as ModuleRow[];
  }

  storedSymbols(moduleId: number): SymbolRow[] {
    return (this.db.prepare('SELECT id, name, offset, size FROM symbols WHERE module_id = ?').all(moduleId) as
      { id: number; name: string; offset: number; size: number }[]).map((s) => [s.offset, s.size, s.name, s.id] as const);
  }

  /** The next module's id, and ids for its symbols, before it is stored. */
  nextModule(): number {
    return this.nextModuleId++;
  }

  nextSymbol(): number {
    return this.nextSymbolId++;
  }

  module(m: Omit<ModuleRow, 'unloadOrder'>, loadedWhileRecording: boolean, symbols: readonly SymbolRow[]): void {
    this.insertModule.run(m.id, m.name, m.path, m.base, m.size, m.loadOrder, loadedWhileRecording ? 1 : 0);
    for (const [offset, size, name, id] of symbols) this.insertSymbol.run(id, m.id, name, offset, size);
  }

  unloaded(id: number, order: number): void {
    this.markUnloaded.run(order, id);
  }
}
