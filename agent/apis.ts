// --apis: tells the transformer which library functions to record with their arguments, as
// their modules load and unload, and where the app's code is for --only-from-app.
import { globRegExp } from './globs.js';
import type { Symbol } from './modules.js';
import type { ApiOptions } from '../host/schema/protocol.generated.js';
import type { Tracer } from './tracer.js';

export class ApiTable {
  /** Prototype bytes the transformer points into: alive as long as the recording. */
  private readonly protos = new Map<string, NativePointer>();
  private readonly unknown: NativePointer;
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];
  private readonly toLib: RegExp | null;

  constructor(private readonly options: ApiOptions, private readonly tracer: Tracer) {
    this.unknown = ApiTable.bytes(options.unknown);
    for (const [name, bytes] of Object.entries(options.prototypes)) this.protos.set(name, ApiTable.bytes(bytes));
    this.include = options.include.map(globRegExp);
    this.exclude = options.exclude.map(globRegExp);
    this.toLib = options.onlyToLib === null ? null : globRegExp(options.onlyToLib);
    // Until the app module is seen, no call comes from it.
    if (options.onlyFromApp) tracer.setAppRange(ptr(1), ptr(1));
  }

  private static bytes(values: number[]): NativePointer {
    const p = Memory.alloc(values.length);
    p.writeByteArray(values);
    return p;
  }

  private get appModule(): string {
    return this.options.appModule ?? Process.mainModule.name;
  }

  /** Whether a function, under any of its names, passes -i/-x/--ignore-underscore. */
  private wanted(module: string, names: string[]): string[] {
    const kept = this.options.ignoreUnderscore ? names.filter((n) => !n.startsWith('_')) : names;
    const qualified = kept.map((n) => `${module}!${n}`);
    if (qualified.length === 0 || qualified.some((q) => this.exclude.some((re) => re.test(q)))) return [];
    if (this.include.length > 0 && !qualified.some((q) => this.include.some((re) => re.test(q)))) return [];
    return kept;
  }

  /** A module appeared: its functions are recorded when called, unless it is the app itself. */
  added(m: Module, symbols: Symbol[], excluded: boolean): void {
    if (m.name === this.appModule) {
      if (this.options.onlyFromApp) this.tracer.setAppRange(m.base, m.base.add(m.size));
      return;
    }
    if (excluded || (this.toLib !== null && !this.toLib.test(m.name))) return;
    const byOffset = new Map<number, string[]>();
    for (const [offset, , name] of symbols) {
      const names = byOffset.get(offset);
      if (names === undefined) byOffset.set(offset, [name]);
      else if (!names.includes(name)) names.push(name);
    }
    const entries: [NativePointer, NativePointer][] = [];
    for (const [offset, names] of byOffset) {
      const kept = this.wanted(m.name, names);
      if (kept.length === 0) continue;
      const typed = kept.find((n) => this.protos.has(n));
      entries.push([m.base.add(offset), typed === undefined ? this.unknown : this.protos.get(typed)!]);
    }
    this.tracer.addApiEntries(entries);
  }

  removed(m: Module): void {
    this.tracer.removeApiRange(m.base, m.base.add(m.size));
  }
}
