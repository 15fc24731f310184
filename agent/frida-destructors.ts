// Frida's agent library tears its runtime down (GLib, Gum, their heap) in its ELF destructors.
// The C library's exit() runs those (_dl_fini) while the agent's threads, Frida's hook on _exit
// and Stalker's code on the followed main thread are still running: they then use freed memory,
// and the process spins or faults at its end instead of exiting (seen with Frida 17.6 on
// x86_64, in about a third of recordings of a short loop). While this script is loaded those
// destructors do nothing: the process ends at _exit, which needs nothing freed. A detach
// reverts the replacements before Frida unloads its library, where they must run. A forked
// child, whose copy of the runtime has none of its threads, hung in them at its exit.
import { DT_FINI_ARRAY, DT_FINI_ARRAYSZ, elfImage } from './elf-image.js';
import { fridaLibraryBases } from './frida-code.js';

/** Kept alive for as long as the replacements use it. */
let nothing: NativePointer | null = null;

/**
 * A function that returns, in code of its own: no JavaScript runs at the exit, nor in a forked
 * child (which never runs JavaScript, forks.ts), where the C library calls these destructors too.
 */
function doNothing(): NativePointer {
  const code = Memory.alloc(Process.pageSize);
  const writer = Process.arch === 'arm64' ? new Arm64Writer(code) : new X86Writer(code);
  writer.putRet();
  writer.flush();
  Memory.protect(code, Process.pageSize, 'r-x');
  return code;
}

/** Makes the destructors of Frida's agent libraries return at once. */
export function keepFridaThroughExit(): void {
  nothing ??= doNothing();
  for (const base of fridaLibraryBases()) {
    for (const destructor of elfImage({ base })?.dynamic().functions(DT_FINI_ARRAY, DT_FINI_ARRAYSZ) ?? []) {
      if (destructor.isNull()) continue;
      try {
        Interceptor.replace(destructor, nothing);
      } catch {
        // Too short to hook: it is left as it is.
      }
    }
  }
}
