// GNU indirect functions (strlen, strcmp, memcmp, memcpy and most of the C library's string
// functions): the symbol names a resolver that runs once, and calls go to the implementation it
// picked, which has no symbol of its own. Frida's export list leaves these symbols out, so their
// names come from the file's dynamic symbol table, and the dynamic linker's dlsym gives the
// implementation each resolves to. The implementation gets the symbol's name: calls to it are
// named, and recorded by --apis.

const SHT_DYNSYM = 11;
const STT_GNU_IFUNC = 10;
const ELF_MAGIC = 0x464c457f;
const RTLD_LAZY = 1;
const RTLD_NOLOAD = 4;

/** Names of the indirect functions a 64-bit little-endian ELF file defines. */
function indirectFunctionNames(path: string): string[] {
  let v: DataView;
  try {
    v = new DataView(File.readAllBytes(path));
  } catch {
    return [];
  }
  if (v.byteLength < 64 || v.getUint32(0, true) !== ELF_MAGIC || v.getUint8(4) !== 2 || v.getUint8(5) !== 1) return [];
  const shoff = Number(v.getBigUint64(0x28, true));
  const shentsize = v.getUint16(0x3a, true);
  const shnum = v.getUint16(0x3c, true);
  const section = (i: number) => shoff + i * shentsize;
  const names: string[] = [];
  for (let i = 0; i < shnum && section(i + 1) <= v.byteLength; i++) {
    if (v.getUint32(section(i) + 4, true) !== SHT_DYNSYM) continue;
    const symbols = Number(v.getBigUint64(section(i) + 0x18, true));
    const size = Number(v.getBigUint64(section(i) + 0x20, true));
    const strings = Number(v.getBigUint64(section(v.getUint32(section(i) + 0x28, true)) + 0x18, true));
    for (let at = symbols; at + 24 <= symbols + size && at + 24 <= v.byteLength; at += 24) {
      if ((v.getUint8(at + 4) & 0xf) !== STT_GNU_IFUNC || v.getUint16(at + 6, true) === 0) continue;
      let end = strings + v.getUint32(at, true);
      const start = end;
      while (end < v.byteLength && v.getUint8(end) !== 0) end++;
      names.push(String.fromCharCode(...new Uint8Array(v.buffer, start, end - start)));
    }
  }
  return names;
}

type Libdl = {
  open: NativeFunction<NativePointer, [NativePointerValue, number]>;
  sym: NativeFunction<NativePointer, [NativePointerValue, NativePointerValue]>;
  close: NativeFunction<number, [NativePointerValue]>;
};

function libdl(): Libdl | null {
  const [open, sym, close] = ['dlopen', 'dlsym', 'dlclose'].map((n) => Module.findGlobalExportByName(n));
  if (open === null || sym === null || close === null) return null;
  return {
    open: new NativeFunction(open, 'pointer', ['pointer', 'int']),
    sym: new NativeFunction(sym, 'pointer', ['pointer', 'pointer']),
    close: new NativeFunction(close, 'int', ['pointer']),
  };
}

let dl: Libdl | null | undefined;

/** The module's indirect functions: [implementation, name]. */
export function indirectFunctions(m: Module): [NativePointer, string][] {
  if (!m.path.startsWith('/')) return [];
  const names = indirectFunctionNames(m.path);
  if (names.length === 0) return [];
  dl ??= libdl();
  if (dl === null) return [];
  const handle = dl.open(Memory.allocUtf8String(m.path), RTLD_LAZY | RTLD_NOLOAD);
  if (handle.isNull()) return [];
  const end = m.base.add(m.size);
  const out: [NativePointer, string][] = [];
  try {
    for (const name of names) {
      const impl = dl.sym(handle, Memory.allocUtf8String(name));
      if (!impl.isNull() && impl.compare(m.base) >= 0 && impl.compare(end) < 0) out.push([impl, name]);
    }
  } finally {
    dl.close(handle);
  }
  return out;
}
