import { SymbolIndex } from './symbol-index.js';

export interface ModuleInstance {
  /** modules.id: one per load, so a library loaded twice at two bases is two instances. */
  id: number;
  name: string;
  path: string;
  base: number;
  size: number;
  symbols: SymbolIndex;
}

/**
 * The modules mapped at one point of the trace. Each load or unload starts a new epoch, so an
 * address resolves against the map that was live when its event ran.
 */
export class ModuleMap {
  private sorted: ModuleInstance[] = [];
  epoch = 0;

  get modules(): readonly ModuleInstance[] {
    return this.sorted;
  }

  /** Adds a module; any mapped module it overlaps must have gone unnoticed, and is returned as unloaded. */
  load(module: ModuleInstance): ModuleInstance[] {
    const end = module.base + module.size;
    const gone = this.sorted.filter((m) => m.base < end && module.base < m.base + m.size);
    this.sorted = this.sorted.filter((m) => !gone.includes(m));
    const at = this.sorted.findIndex((m) => m.base > module.base);
    this.sorted.splice(at < 0 ? this.sorted.length : at, 0, module);
    this.epoch++;
    return gone;
  }

  unload(base: number): ModuleInstance | undefined {
    const at = this.sorted.findIndex((m) => m.base === base);
    if (at < 0) return undefined;
    const [gone] = this.sorted.splice(at, 1);
    this.epoch++;
    return gone;
  }

  /** Where a function named `name` is, in the first module by address that has it other than `besides`. */
  addressOf(name: string, besides: ModuleInstance): number | undefined {
    for (const m of this.sorted) {
      const offset = m === besides ? undefined : m.symbols.offsetOf(name);
      if (offset !== undefined) return m.base + offset;
    }
    return undefined;
  }

  find(address: number): ModuleInstance | undefined {
    const list = this.sorted;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = list[mid];
      if (address < m.base) hi = mid - 1;
      else if (address >= m.base + m.size) lo = mid + 1;
      else return m;
    }
    return undefined;
  }
}
