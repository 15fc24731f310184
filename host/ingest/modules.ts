import type { Statement } from 'better-sqlite3';
import type { ModuleLoadMessage } from '../schema/layout.generated.js';
import type { TraceDb } from '../store/database.js';
import { ModuleMap, type ModuleInstance } from '../symbols/module-map.js';
import { SymbolIndex } from '../symbols/symbol-index.js';
import { hostSymbols } from '../symbols/host-symbols.js';
import type { FunctionSymbol } from '../symbols/elf-file.js';
import { parseAddress } from '../capture/meta.js';

/** What the target reported, with the names this machine's copy of the file adds (one entry per offset and name). */
function withHostSymbols(message: ModuleLoadMessage): FunctionSymbol[] {
  const reported = message.symbols ?? [];
  const extra = hostSymbols(message.path, message.buildId);
  if (extra.length === 0) return reported;
  const seen = new Set(reported.map(([offset, , name]) => `${offset}:${name}`));
  return [...reported, ...extra.filter(([offset, , name]) => !seen.has(`${offset}:${name}`) && seen.add(`${offset}:${name}`))];
}

/** Keeps the live module map and the modules and symbols tables in step. */
export class ModuleRegistry {
  readonly map = new ModuleMap();
  private nextModuleId: number;
  private nextSymbolId: number;
  private readonly insertModule: Statement;
  private readonly insertSymbol: Statement;
  private readonly markUnloaded: Statement;

  constructor(private readonly db: TraceDb) {
    this.insertModule = db.prepare('INSERT INTO modules (id, name, path, base, size, load_order, loaded_while_recording) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insertSymbol = db.prepare('INSERT INTO symbols (id, module_id, name, offset, size) VALUES (?, ?, ?, ?, ?)');
    this.markUnloaded = db.prepare('UPDATE modules SET unload_order = ? WHERE id = ?');
    this.nextModuleId = (db.prepare('SELECT coalesce(max(id), 0) + 1 FROM modules').pluck().get() as number);
    this.nextSymbolId = (db.prepare('SELECT coalesce(max(id), 0) + 1 FROM symbols').pluck().get() as number);
    this.restore();
  }

  /** Rebuilds the map as the last ingest left it. */
  private restore(): void {
    const rows = this.db.prepare('SELECT id, name, path, base, size, load_order, unload_order FROM modules ORDER BY load_order').all() as
      { id: number; name: string; path: string; base: number; size: number; load_order: number; unload_order: number | null }[];
    const symbols = this.db.prepare('SELECT id, name, offset, size FROM symbols WHERE module_id = ?');
    for (const row of rows) {
      if (row.unload_order !== null) continue;
      const syms = (symbols.all(row.id) as { id: number; name: string; offset: number; size: number }[])
        .map((s) => [s.offset, s.size, s.name, s.id] as const);
      this.map.load({ id: row.id, name: row.name, path: row.path, base: row.base, size: row.size, symbols: new SymbolIndex(syms) });
    }
    this.map.epoch = Math.max(this.map.epoch, ...rows.map((r) => Math.max(r.load_order, r.unload_order ?? 0)));
  }

  load(message: ModuleLoadMessage): ModuleInstance {
    const id = this.nextModuleId++;
    const symbols = withHostSymbols(message).map(([offset, size, name]) => [offset, size, name, this.nextSymbolId++] as const);
    const module = { id, name: message.name, path: message.path, base: parseAddress(message.base), size: message.size, symbols: new SymbolIndex(symbols) };
    const gone = this.map.load(module);
    this.insertModule.run(id, module.name, module.path, module.base, module.size, this.map.epoch, message.loadedLater ? 1 : 0);
    for (const [offset, size, name, symbolId] of symbols) this.insertSymbol.run(symbolId, id, name, offset, size);
    for (const m of gone) this.markUnloaded.run(this.map.epoch, m.id);
    return module;
  }

  unload(base: string): void {
    const gone = this.map.unload(parseAddress(base));
    if (gone) this.markUnloaded.run(this.map.epoch, gone.id);
  }
}
