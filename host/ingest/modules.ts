import type { ModuleLoadMessage } from '../schema/layout.generated.js';
import type { ModuleWriter } from '../store/module-writer.js';
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

  constructor(private readonly writer: ModuleWriter) {
    this.restore();
  }

  /** Rebuilds the map as the last ingest left it. */
  private restore(): void {
    const rows = this.writer.stored();
    for (const row of rows) {
      if (row.unloadOrder !== null) continue;
      this.map.load({ id: row.id, name: row.name, path: row.path, base: row.base, size: row.size, symbols: new SymbolIndex(this.writer.storedSymbols(row.id)) });
    }
    this.map.epoch = Math.max(this.map.epoch, ...rows.map((r) => Math.max(r.loadOrder, r.unloadOrder ?? 0)));
  }

  load(message: ModuleLoadMessage): ModuleInstance {
    const id = this.writer.nextModule();
    const symbols = withHostSymbols(message).map(([offset, size, name]) => [offset, size, name, this.writer.nextSymbol()] as const);
    const module = { id, name: message.name, path: message.path, base: parseAddress(message.base), size: message.size, symbols: new SymbolIndex(symbols) };
    const gone = this.map.load(module);
    this.writer.module({ ...module, loadOrder: this.map.epoch }, message.loadedLater ?? false, symbols);
    for (const m of gone) this.writer.unloaded(m.id, this.map.epoch);
    return module;
  }

  unload(base: string): void {
    const gone = this.map.unload(parseAddress(base));
    if (gone) this.writer.unloaded(gone.id, this.map.epoch);
  }
}
