// A module's ELF image as it lies in memory: its header and program headers, read through the
// module's base. What stalk-trace needs of it without the file: the entry point, the dynamic
// section (the program's init functions, Frida's destructors) and the notes (its build id).

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_NOTE = 4;

export const DT_INIT = 12;
export const DT_INIT_ARRAY = 25;
export const DT_FINI_ARRAY = 26;
export const DT_INIT_ARRAYSZ = 27;
export const DT_FINI_ARRAYSZ = 28;
export const DT_PREINIT_ARRAY = 32;
export const DT_PREINIT_ARRAYSZ = 33;

/** A module's dynamic section, as the loader left it. */
export interface DynamicSection {
  /** A tag's value; undefined where the section has no such entry. */
  get(tag: number): UInt64 | undefined;
  /** The entries of an array of functions (DT_INIT_ARRAY with DT_INIT_ARRAYSZ, ...): relocated by now, their addresses. */
  functions(array: number, size: number): NativePointer[];
}

export interface ElfImage {
  /** Where a link-time address of the image is in the process. */
  at(address: UInt64 | number): NativePointer;
  /** The program headers of one type: where their contents are, and their size in memory. */
  segments(type: number): { start: NativePointer; size: number }[];
  /** The entry point, relocated. */
  entry: NativePointer;
  /** The dynamic section; without one, it has no entries. */
  dynamic(): DynamicSection;
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
        for (let entry = section?.start; entry !== undefined; entry = entry.add(16)) {
          const tag = entry.readU64().toNumber();
          // DT_NULL ends the section.
          if (tag === 0) break;
          tags.set(tag, entry.add(8).readU64());
        }
        return {
          get: (tag) => tags.get(tag),
          functions(array, size) {
            const start = tags.get(array);
            if (start === undefined) return [];
            const count = Math.floor((tags.get(size)?.toNumber() ?? 0) / Process.pointerSize);
            return Array.from({ length: count }, (_, i) => at(start).add(i * Process.pointerSize).readPointer());
          },
        };
      },
    };
  } catch {
    return null;
  }
}
