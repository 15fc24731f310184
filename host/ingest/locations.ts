import { AddressTable } from '../base/address-table.js';
import { LocationWriter, type Resolution } from '../store/location-writer.js';
import type { ModuleInstance, ModuleMap } from '../symbols/module-map.js';
import { pltTarget } from '../symbols/host-symbols.js';

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * Gives every address an id in the locations table, resolved once against the module map that
 * is live when the address is first seen in that map.
 */
export class Locations {
  /** address -> id under the map's current epoch; emptied when the map changes. */
  private readonly current = new AddressTable();
  /** Call target -> the callee's location id (a PLT stub's is its function's), under the current epoch. */
  private readonly callees = new AddressTable();
  /** module id (0: no module) -> address -> id, kept across epochs. */
  private readonly byModule = new Map<number, Map<number, number>>();
  private epoch: number;

  constructor(private readonly writer: LocationWriter, private readonly map: ModuleMap) {
    for (const row of writer.stored()) this.moduleCache(row.moduleId ?? 0).set(row.address, row.id);
    this.epoch = map.epoch;
  }

  private moduleCache(moduleId: number): Map<number, number> {
    let cache = this.byModule.get(moduleId);
    if (!cache) this.byModule.set(moduleId, (cache = new Map()));
    return cache;
  }

  /** Forgets what was resolved against an earlier map. */
  private follow(): void {
    if (this.epoch === this.map.epoch) return;
    this.current.clear();
    this.callees.clear();
    this.epoch = this.map.epoch;
  }

  id(address: number): number {
    this.follow();
    const id = this.current.get(address);
    return id >= 0 ? id : this.resolve(address);
  }

  /**
   * A call's callee: the function itself where the call went to a PLT stub (`write@plt` reaches
   * libc.so.6!write), found by name among the other modules mapped now; otherwise the target.
   */
  calleeId(address: number): number {
    this.follow();
    const known = this.callees.get(address);
    return known >= 0 ? known : this.resolveCallee(address);
  }

  private resolveCallee(address: number): number {
    let callee = this.id(address);
    const module = this.map.find(address);
    const symbol = module?.symbols.lookup(address - module.base);
    const name = symbol !== undefined && symbol.delta === 0 ? pltTarget(symbol.name) : null;
    if (name !== null) {
      const reached = this.map.addressOf(name, module!);
      if (reached !== undefined) callee = this.id(reached);
    }
    this.callees.set(address, callee);
    return callee;
  }

  private describe(address: number, module: ModuleInstance | undefined): Resolution {
    if (!module) return [null, null, null, null, hex(address)];
    const offset = address - module.base;
    const symbol = module.symbols.lookup(offset);
    const name = symbol
      ? `${module.name}!${symbol.name}${symbol.delta ? `+${hex(symbol.delta)}` : ''}`
      : `${module.name}+${hex(offset)}`;
    return [module.id, offset, symbol?.id ?? null, symbol?.delta ?? null, name];
  }

  private resolve(address: number): number {
    const module = this.map.find(address);
    const cache = this.moduleCache(module?.id ?? 0);
    let id = cache.get(address);
    if (id === undefined) {
      id = this.writer.location(address, this.describe(address, module));
      cache.set(address, id);
    }
    this.current.set(address, id);
    return id;
  }

  /**
   * A module appeared over addresses that ran before any known module held them (code the agent
   * names only after it ran, like Interceptor's relocated prologue): they belong to it.
   */
  claim(module: ModuleInstance): void {
    const unmapped = this.moduleCache(0);
    const cache = this.moduleCache(module.id);
    for (const [address, id] of unmapped) {
      if (address < module.base || address >= module.base + module.size) continue;
      this.writer.resolvedAgain(id, this.describe(address, module));
      unmapped.delete(address);
      cache.set(address, id);
    }
  }
}
