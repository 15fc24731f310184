// The main thread of a spawned process. Frida holds it where the C library's start routine has
// already begun, and following it from here does not take: it follows itself when it reaches
// `main`, found by name or, in a stripped program, from the ELF entry point (program-entry.ts).
// Where there is no such `main` (Android apps, forked from zygote with their main thread deep in
// the runtime; static runtimes), it is followed from the moment the host resumes the process.
import { findMain, type CodeReader } from './program-entry.js';

const ET_DYN = 3;

/** Frida's view of the running process, in the form findMain reads. */
function processReader(main: Module): CodeReader {
  const end = main.base.add(main.size);
  return {
    arch: Process.arch === 'arm64' ? 'arm64' : 'x64',
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

/** The ELF header's entry point, relocated for a position-independent program. */
function entryPoint(main: Module): NativePointer | null {
  const header = main.base;
  if (header.readU32() !== 0x464c457f || Process.pointerSize !== 8) return null;
  const entry = header.add(0x18).readU64();
  return header.add(0x10).readU16() === ET_DYN ? header.add(entry) : ptr(entry.toString());
}

/** The program's own `main`: its symbol, else what the entry point hands the C library; null if neither. */
export function programMain(): NativePointer | null {
  const main = Process.mainModule;
  const named = main.findExportByName('main') ?? main.enumerateSymbols().find((s) => s.name === 'main' && s.type === 'function')?.address;
  if (named !== undefined && named !== null && !named.isNull()) return named;
  const entry = entryPoint(main);
  if (entry === null) return null;
  const found = findMain(processReader(main), BigInt(entry.toString()));
  return found === null ? null : ptr(found.toString());
}

/** Android's app processes are app_process forks: their main() ran in zygote, long ago. */
export const isZygoteChild = () => /^app_process(32|64)?$/.test(Process.mainModule.name);
