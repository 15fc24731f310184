// --func: the threads are followed only while they are inside one function, however deep in
// recursion and on however many threads at once.
import type { FuncSpec } from './protocol.generated.js';
import { post } from './messages.js';
import type { Threads } from './threads.js';

function describe(spec: FuncSpec): string {
  const what = spec.symbol ?? `0x${(spec.offset ?? 0).toString(16)}`;
  return spec.module !== null ? `${spec.module}!${what}` : what;
}

/** The function's address once its module is loaded; null while it is not. Throws when the module has no such function. */
export function resolveFunc(spec: FuncSpec): NativePointer | null {
  if (spec.module === null && spec.symbol !== null) {
    const exported = Module.findGlobalExportByName(spec.symbol);
    if (exported !== null) return exported;
    const debug = DebugSymbol.fromName(spec.symbol);
    if (!debug.address.isNull()) return debug.address;
    return null;
  }
  const module = spec.module === null ? Process.mainModule : Process.findModuleByName(spec.module);
  if (module === null) return null;
  if (spec.offset !== null) {
    if (spec.offset >= module.size) throw new Error(`${describe(spec)} is beyond the end of ${module.name} (${module.size} bytes)`);
    return module.base.add(spec.offset);
  }
  const found = module.findExportByName(spec.symbol!) ??
    module.enumerateSymbols().find((s) => s.name === spec.symbol && s.type === 'function')?.address ?? null;
  if (found === null) throw new Error(`${module.name} has no function named ${spec.symbol}`);
  return found;
}

export class FuncScope {
  private readonly depth = new Map<number, number>();
  private listener: InvocationListener | null = null;
  private timeout: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly spec: FuncSpec, private readonly threads: Threads) {}

  /** Hooks the function now, or when its module appears; a symbol name alone can also appear later (dlopen). */
  tryHook(): boolean {
    if (this.listener !== null) return true;
    const address = resolveFunc(this.spec);
    if (address === null) return false;
    const { depth, threads } = this;
    this.listener = Interceptor.attach(address, {
      onEnter() {
        const d = depth.get(this.threadId) ?? 0;
        depth.set(this.threadId, d + 1);
        if (d === 0) threads.follow(this.threadId);
      },
      onLeave() {
        const d = (depth.get(this.threadId) ?? 1) - 1;
        depth.set(this.threadId, d);
        if (d === 0) threads.unfollow(this.threadId);
      },
    });
    if (this.timeout !== null) clearTimeout(this.timeout);
    post({ type: 'func-hooked', address: address.toString(), name: describe(this.spec) });
    return true;
  }

  /** Gives up waiting for the function's module after `ms`. */
  deadline(ms: number): void {
    if (this.listener !== null) return;
    this.timeout = setTimeout(() => {
      if (this.listener === null) {
        post({ type: 'fatal', reason: `${describe(this.spec)} did not appear within ${ms / 1000} s (is its module ever loaded?)` });
      }
    }, ms);
  }

  stop(): void {
    this.listener?.detach();
    this.listener = null;
    if (this.timeout !== null) clearTimeout(this.timeout);
  }
}
