// --func: threads are followed as usual, but record only while they are inside one function,
// however deep in recursion and on however many threads at once. A callout the transformer puts
// at the function's entry opens recording (cmodule/transform.c), and a check it emits before
// every return closes it when the outermost activation returns (st_emit_func_exit_check,
// cmodule/emit-*.c); no hook is placed in the target, so nothing of Frida runs followed.
import type { FuncSpec } from '../host/schema/protocol.generated.js';
import { isZygoteChild } from './main-thread.js';
import { post } from './messages.js';
import type { Tracer } from './tracer.js';

function describe(spec: FuncSpec): string {
  const what = spec.symbol ?? `0x${(spec.offset ?? 0).toString(16)}`;
  return spec.module !== null ? `${spec.module}!${what}` : what;
}

/**
 * Refuses a spec that cannot mean the user's function: an Android app's main module is
 * app_process64, which zygote forked, so an offset with no module would be one in it.
 */
export function checkFuncSpec(spec: FuncSpec): void {
  if (spec.module === null && spec.offset !== null && isZygoteChild()) {
    throw new Error(`--func ${describe(spec)} would be an offset in ${Process.mainModule.name}, an Android app's main module, not in the app's code: name the app's library, as in --func libapp.so!${describe(spec)}`);
  }
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
  private entry: NativePointer | null = null;
  private timeout: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly spec: FuncSpec, private readonly tracer: Tracer) {}

  /** Finds the function now, or when its module appears; a symbol name alone can also appear later (dlopen). */
  tryResolve(): boolean {
    if (this.entry !== null) return true;
    const entry = resolveFunc(this.spec);
    if (entry === null) return false;
    this.entry = entry;
    this.tracer.funcEntry = entry;
    if (this.timeout !== null) clearTimeout(this.timeout);
    post({ type: 'func-hooked', address: entry.toString(), name: describe(this.spec) });
    return true;
  }

  /** Gives up waiting for the function's module after `ms`. */
  deadline(ms: number): void {
    if (this.entry !== null) return;
    this.timeout = setTimeout(() => {
      if (this.entry === null) {
        post({ type: 'fatal', reason: `${describe(this.spec)} did not appear within ${ms / 1000} s (is its module ever loaded?)` });
      }
    }, ms);
  }

  stop(): void {
    if (this.timeout !== null) clearTimeout(this.timeout);
  }
}
