// A module's GNU build id, read from its notes in memory: the host names code from files on its
// own disk only when their build id is the same (host/symbols/host-symbols.ts).

import { elfImage, PT_NOTE } from './elf-image.js';

const NT_GNU_BUILD_ID = 3;

/** The build id as hex, or null for a module without one (or not a 64-bit ELF image in memory). */
export function buildIdOf(m: Module): string | null {
  try {
    for (const { start, size } of elfImage(m)?.segments(PT_NOTE) ?? []) {
      for (let at = 0; at + 12 <= size;) {
        const note = start.add(at);
        const namesz = note.readU32();
        const descsz = note.add(4).readU32();
        const desc = 12 + Math.ceil(namesz / 4) * 4;
        if (note.add(8).readU32() === NT_GNU_BUILD_ID && note.add(12).readUtf8String(3) === 'GNU') {
          return Array.from(new Uint8Array(note.add(desc).readByteArray(descsz)!), (b) => b.toString(16).padStart(2, '0')).join('');
        }
        at += desc + Math.ceil(descsz / 4) * 4;
      }
    }
  } catch {
    // Unreadable notes: the host simply names the module from what the target reported.
  }
  return null;
}
