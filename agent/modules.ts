// The module map: each module once at start and on every load and unload after, with its
// function symbols, so the host resolves addresses against the map that was live.
import { globRegExp } from './globs.js';
import { indirectFunctions } from './ifuncs.js';
import { postMeta } from './messages.js';
import { buildIdOf } from './build-id.js';

export type Symbol = [offset: number, size: number, name: string];

function functionSymbols(m: Module): Symbol[] {
  const seen = new Set<string>();
  const out: Symbol[] = [];
  const add = (address: NativePointer, size: number, name: string) => {
    const offset = address.sub(m.base).toUInt32();
    const key = `${offset}:${name}`;
    if (address.isNull() || offset >= m.size || seen.has(key)) return;
    seen.add(key);
    out.push([offset, size, name]);
  };
  for (const s of m.enumerateSymbols()) if (s.type === 'function') add(s.address, s.size ?? 0, s.name);
  for (const e of m.enumerateExports()) if (e.type === 'function') add(e.address, 0, e.name);
  for (const [impl, name] of indirectFunctions(m)) add(impl, 0, name);
  return out;
}

/** Frida's own code is never followed. */
const FRIDA_MODULE = /^frida-(agent|gadget)/;

export class ModuleWatcher {
  private observer: ModuleObserver | null = null;
  private readonly excluded: RegExp[];

  /** `beforeChange` sends the events recorded so far, so they resolve against the old map. */
  constructor(excludeGlobs: string[], private readonly beforeChange: () => void,
    private readonly onLoad: (m: Module, symbols: Symbol[], excluded: boolean) => void, private readonly onUnload: (m: Module) => void) {
    this.excluded = [FRIDA_MODULE, ...excludeGlobs.map(globRegExp)];
  }

  start(): void {
    // The observer reports the modules there are now before it returns; every later one was loaded while recording.
    let loadedLater = false;
    this.observer = Process.attachModuleObserver({
      onAdded: (m) => {
        this.beforeChange();
        const excluded = this.excluded.some((re) => re.test(m.name));
        if (excluded) Stalker.exclude({ base: m.base, size: m.size });
        const symbols = functionSymbols(m);
        postMeta({
          type: 'module-load', name: m.name, path: m.path, base: m.base.toString(), size: m.size, symbols, buildId: buildIdOf(m),
          ...(loadedLater ? { loadedLater } : {}),
        });
        this.onLoad(m, symbols, excluded);
      },
      onRemoved: (m) => {
        this.beforeChange();
        this.onUnload(m);
        postMeta({ type: 'module-unload', base: m.base.toString() });
      },
    });
    loadedLater = true;
  }

  stop(): void {
    this.observer?.detach();
    this.observer = null;
  }
}
