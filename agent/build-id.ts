// A module's GNU build id, read from its notes in memory: the host names code from files on its
// own disk only when their build id is the same (host/symbols/host-symbols.ts).

const PT_LOAD = 1;
const PT_NOTE = 4;
const NT_GNU_BUILD_ID = 3;

/** The build id as hex, or null for a module without one (or not a 64-bit ELF image in memory). */
export function buildIdOf(m: Module): string | null {
  try {
    const header = m.base;
    if (header.readU32() !== 0x464c457f || header.add(4).readU8() !== 2) return null;
    const phoff = header.add(0x20).readU64().toNumber();
    const phentsize = header.add(0x36).readU16();
    const phnum = header.add(0x38).readU16();
    const headers = Array.from({ length: phnum }, (_, i) => header.add(phoff + i * phentsize));
    const loads = headers.filter((ph) => ph.readU32() === PT_LOAD).map((ph) => ph.add(16).readU64().toNumber());
    const loadBase = loads.length === 0 ? 0 : Math.min(...loads) - (Math.min(...loads) % 4096);
    for (const ph of headers.filter((h) => h.readU32() === PT_NOTE)) {
      const start = m.base.add(ph.add(16).readU64().toNumber() - loadBase);
      const size = ph.add(32).readU64().toNumber();
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
    // Unreadable headers: the host simply names the module from what the target reported.
  }
  return null;
}
