// A module's ELF image as it lies in memory: its header and program headers, read through the
// module's base. What stalk-trace needs of it without the file: the entry point, the dynamic
// section (the program's init functions, Frida's destructors) and the notes (its build id).

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_NOTE = 4;

export interface ElfImage {
  /** Where a link-time address of the image is in the process. */
  at(address: UInt64 | number): NativePointer;
  /** The program headers of one type: where their contents are, and their size in memory. */
  segments(type: number): { start: NativePointer; size: number }[];
  /** The entry point, relocated. */
  entry: NativePointer;
  /** The dynamic section's entries, tag to value; empty without one. */
  dynamic(): Map<number, UInt64>;
}

/** The image of a 64-bit ELF module loaded at `base`; null for anything else (a 32-bit process, an unreadable header). */
export function elfImage({ base: header }: { base: NativePointer }): ElfImage | null {
  try {
    if (header.readU32() !== 0x464c457f || header.add(4).readU8() !== 2) return null;
    const phoff = header.add(0x20).readU64().toNumber();
    const phentsize = header.add(0x36).readU16();
    const headers = Array.from({ length: header.add(0x38).readU16() }, (_, i) => header.add(phoff + i * phentsize));
    const loads = headers.filter((ph) => ph.readU32() === PT_LOAD).map((ph) => ph.add(16).readU64().toNumber());
    // A module's base is its first loaded page: link-time addresses count from there.
    const lowest = loads.length === 0 ? 0 : Math.min(...loads);
    const firstPage = lowest - (lowest % 4096);
    const at = (address: UInt64 | number) => header.add(Number(address.toString()) - firstPage);
    const segments = (type: number) => headers.filter((ph) => ph.readU32() === type).map((ph) => ({ start: at(ph.add(16).readU64()), size: ph.add(40).readU64().toNumber() }));
    return {
      at,
      segments,
      entry: at(header.add(0x18).readU64()),
      dynamic() {
        const tags = new Map<number, UInt64>();
        const [section] = segments(PT_DYNAMIC);
        if (section === undefined) return tags;
        for (let entry = section.start; ; entry = entry.add(16)) {
          const tag = entry.readU64().toNumber();
          if (tag === 0) return tags;
          tags.set(tag, entry.add(8).readU64());
        }
      },
    };
  } catch {
    return null;
  }
}
