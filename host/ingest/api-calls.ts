import { ApicallFlag, Payload, type ApisMessage } from '../schema/layout.generated.js';
import type { RecordDecoder } from '../capture/ring-records.js';
import type { ApiWriter } from '../store/api-writer.js';
import type { ModuleMap } from '../symbols/module-map.js';
import { valueOf, type ArgType } from '../symbols/arg-types.js';
import { prototypeFromEntry, type Prototype } from '../symbols/prototypes.js';
import type { Locations } from './locations.js';
import { readMemory } from '../capture/memory-reads.js';
import { PerThread } from './per-thread.js';

interface OpenApi {
  id: number;
  functionAddress: number;
  returnAddress: number;
  /** The result's type, where the function has a prototype. */
  ret: ArgType | null;
}

/**
 * --apis records: library functions named once, each call stored with its arguments typed by the
 * function's prototype, and each return paired with its call. Calls an earlier ingest left
 * without a return may still get one.
 */
export class ApiCalls {
  /** Per thread, tracked calls whose return may still come, innermost last. */
  private readonly open = new PerThread<OpenApi>();
  /** api_functions ids by the function's location id. */
  private readonly functions = new Map<number, number>();
  /** The prototype of each api_functions id, or null. */
  private readonly functionPrototypes = new Map<number, Prototype | null>();

  /** `prototypes`: the recording's, which name a library function whose address has several, and type its values. */
  constructor(private readonly writer: ApiWriter, private readonly prototypes: Map<string, Prototype>, private readonly modules: ModuleMap,
    private readonly locations: Locations) {
    for (const f of writer.functions()) {
      this.functions.set(f.locationId, f.id);
      this.functionPrototypes.set(f.id, prototypes.get(f.name) ?? null);
    }
    for (const c of writer.open()) {
      const ret = this.functionPrototypes.get(c.functionId)?.ret ?? null;
      this.open.of(c.threadId).push({ id: c.id, functionAddress: c.functionAddress, returnAddress: c.returnAddress, ret });
    }
  }

  addPrototypes(m: ApisMessage): void {
    for (const entry of m.prototypes) {
      const [ret, name, args] = entry;
      this.writer.prototype(name, ret, args);
      this.prototypes.set(name, prototypeFromEntry(entry));
    }
  }

  /** The library function at a location, under the name its prototype has where it has several. */
  private functionId(locationId: number, address: number): number {
    let id = this.functions.get(locationId);
    if (id !== undefined) return id;
    const module = this.modules.find(address);
    const names = module?.symbols.namesAt(address - module.base) ?? [];
    const name = names.find((n) => this.prototypes.has(n)) ?? names.find((n) => !n.startsWith('_')) ?? names[0] ??
      `0x${(module ? address - module.base : address).toString(16)}`;
    id = this.writer.function(locationId, module?.name ?? '?', name);
    this.functions.set(locationId, id);
    this.functionPrototypes.set(id, this.prototypes.get(name) ?? null);
    return id;
  }

  /** The apicall record `r`: the function at `fnAddress` entered, to return to `returnAddress`; returns the call's id. */
  call(tid: number, seq: number, fnAddress: number, fnLocationId: number, returnAddress: number, r: RecordDecoder): number {
    r.payloadHolds(Payload.apicall.args);
    const v = r.view;
    const at = r.payloadAt;
    const argc = v.getUint32(at + Payload.apicall.argc, true);
    const untracked = (v.getUint32(at + Payload.apicall.flags, true) & ApicallFlag.untracked) !== 0;
    const memoryAt = Payload.apicall.args + argc * 8;
    r.payloadHolds(memoryAt);
    const functionId = this.functionId(fnLocationId, fnAddress);
    const prototype = this.functionPrototypes.get(functionId) ?? null;
    const args = Array.from({ length: argc }, (_, i) => valueOf(v.getBigUint64(at + Payload.apicall.args + i * 8, true), prototype?.args[i] ?? null));
    const id = this.writer.call(tid, seq, functionId, this.locations.id(returnAddress), untracked, args, readMemory(v, at + memoryAt, r.payloadEnd));
    if (!untracked) this.open.of(tid).push({ id, functionAddress: fnAddress, returnAddress, ret: prototype?.ret ?? null });
    return id;
  }

  /** Pairs the apiret record `r` with its call; calls opened after that one never returned (the target dropped them too). Returns the call's id, 0 for none. */
  ret(tid: number, seq: number, returnAddress: number, fnAddress: number, r: RecordDecoder): number {
    r.payloadHolds(Payload.apiret.memory);
    const open = this.open.of(tid);
    let i = open.length - 1;
    while (i >= 0 && (open[i].functionAddress !== fnAddress || open[i].returnAddress !== returnAddress)) i--;
    if (i < 0) return 0;
    const { id, ret } = open[i];
    open.length = i;
    this.writer.ret(id, seq, valueOf(r.view.getBigUint64(r.payloadAt + Payload.apiret.ret, true), ret),
      readMemory(r.view, r.payloadAt + Payload.apiret.memory, r.payloadEnd));
    return id;
  }
}
