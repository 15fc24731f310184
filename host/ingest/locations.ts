import type { Statement } from 'better-sqlite3';
import type { TraceDb } from '../store/database.js';
import type { ModuleMap } from '../symbols/module-map.js';

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * Gives every address an id in the locations table, resolved once against the module map that
 * is live when the address is first seen in that map.
 */
export class Locations {
  /** address -> id under the map's current epoch; emptied when the map changes. */
  private current = new Map<number, number>();
  /** module id (0: no module) -> address -> id, kept across epochs. */
  private readonly byModule = new Map<number, Map<number, number>>();
  private epoch: number;
  private nextId: number;
  private readonly insert: Statement;

  constructor(db: TraceDb, private readonly map: ModuleMap) {
    this.insert = db.prepare('INSERT INTO locations (id, address, module_id, offset, symbol_id, symbol_offset, name) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.nextId = db.prepare('SELECT coalesce(max(id), 0) + 1 FROM locations').pluck().get() as number;
    for (const row of db.prepare('SELECT id, address, module_id FROM locations').iterate() as Iterable<{ id: number; address: number; module_id: number | null }>) {
      this.moduleCache(row.module_id ?? 0).set(row.address, row.id);
    }
    this.epoch = map.epoch;
  }

  private moduleCache(moduleId: number): Map<number, number> {
    let cache = this.byModule.get(moduleId);
    if (!cache) this.byModule.set(moduleId, (cache = new Map()));
    return cache;
  }

  id(address: number): number {
    if (this.epoch !== this.map.epoch) {
      this.current = new Map();
      this.epoch = this.map.epoch;
    }
    return this.current.get(address) ?? this.resolve(address);
  }

  private resolve(address: number): number {
    const module = this.map.find(address);
    const cache = this.moduleCache(module?.id ?? 0);
    let id = cache.get(address);
    if (id === undefined) {
      id = this.nextId++;
      if (module) {
        const offset = address - module.base;
        const symbol = module.symbols.lookup(offset);
        const name = symbol
          ? `${module.name}!${symbol.name}${symbol.delta ? `+${hex(symbol.delta)}` : ''}`
          : `${module.name}+${hex(offset)}`;
        this.insert.run(id, address, module.id, offset, symbol?.id ?? null, symbol?.delta ?? null, name);
      } else {
        this.insert.run(id, address, null, null, null, null, hex(address));
      }
      cache.set(address, id);
    }
    this.current.set(address, id);
    return id;
  }
}
