// The main thread of a spawned process. Frida holds it inside the C library's start routine,
// after the dynamic loader and the libraries' constructors ran and before the program's own
// constructors, and following it from here does not take: it follows itself when it reaches the
// program's first code of its own: its preinit/init functions (DT_PREINIT_ARRAY, DT_INIT,
// DT_INIT_ARRAY, from the dynamic section, so stripped programs have them too), else `main`,
// found by name or, in a stripped program, from the ELF entry point (program-entry.ts).
// Where there is no such `main` (Android apps, forked from zygote with their main thread deep in
// the runtime; static runtimes), it is followed from the moment the host resumes the process.
import { findMain, type CodeReader } from './program-entry.js';
import { DT_INIT, DT_INIT_ARRAY, DT_INIT_ARRAYSZ, DT_PREINIT_ARRAY, DT_PREINIT_ARRAYSZ, elfImage } from './elf-image.js';
import { targetArch } from './target.js';

/** Frida's view of the running process, in the form findMain reads. */
function processReader(main: Module): CodeReader {
  const end = main.base.add(main.size);
  return {
    arch: targetArch(),
    decode(address) {
      try {
        const insn = Instruction.parse(ptr(address.toString()));
        return { address: BigInt(insn.address.toString()), size: insn.size, mnemonic: insn.mnemonic, opStr: insn.opStr };
      } catch {
        return null;
      }
    },
    readPointer(address) {
      try {
        return BigInt(ptr(address.toString()).readPointer().toString());
      } catch {
        return null;
      }
    },
    isProgramCode(address) {
      const p = ptr(address.toString());
      return p.compare(main.base) >= 0 && p.compare(end) < 0 && (Process.findRangeByAddress(p)?.protection.includes('x') ?? false);
    },
  };
}

/** The program's own `main`: its symbol, else what the entry point hands the C library; null if neither. */
export function programMain(): NativePointer | null {
  const main = Process.mainModule;
  const named = main.findExportByName('main') ?? main.enumerateSymbols().find((s) => s.name === 'main' && s.type === 'function')?.address;
  if (named !== undefined && named !== null && !named.isNull()) return named;
  const image = elfImage(main);
  if (image === null) return null;
  const found = findMain(processReader(main), BigInt(image.entry.toString()));
  return found === null ? null : ptr(found.toString());
}

/** The program's own functions that run before main, in the order the C library runs them. */
function initFunctions(main: Module): NativePointer[] {
  const image = elfImage(main);
  if (image === null) return [];
  const dynamic = image.dynamic();
  const init = dynamic.get(DT_INIT);
  const first = (array: number, size: number) => dynamic.functions(array, size).slice(0, 1);
  return [...first(DT_PREINIT_ARRAY, DT_PREINIT_ARRAYSZ), ...(init === undefined ? [] : [image.at(init)]), ...first(DT_INIT_ARRAY, DT_INIT_ARRAYSZ)]
    .filter((p) => !p.isNull() && p.compare(main.base) >= 0 && p.compare(main.base.add(main.size)) < 0);
}

/** Where the spawned program's own code begins: its init functions, and main; empty where neither is found. */
export function programStart(): NativePointer[] {
  let inits: NativePointer[] = [];
  try {
    inits = initFunctions(Process.mainModule);
  } catch {
    // An unreadable dynamic section: main alone.
  }
  const main = programMain();
  return main === null ? inits : [...inits, main];
}

/** Android's app processes are app_process forks: their main() ran in zygote, long ago. */
export const isZygoteChild = () => /^app_process(32|64)?$/.test(Process.mainModule.name);
