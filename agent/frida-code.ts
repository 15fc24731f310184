// Frida's own memory (its agent, Interceptor's trampolines, its allocations) is cloaked. A
// thread can be inside it when following starts (after an Interceptor callback), so Stalker runs
// it natively where it can and the transformer records nothing there.

export interface CodeRange {
  base: NativePointer;
  size: number;
  /**
   * Code of Frida's agent library (executable, mapped from its file): a followed thread that
   * enters an Interceptor hook calls into it, and runs it natively only where it is excluded.
   */
  library: boolean;
}

const distance = (from: NativePointer, to: NativePointer) => Number(to.sub(from).toString());

interface Mapping {
  start: NativePointer;
  end: NativePointer;
  executable: boolean;
  offset: number;
  path: string | undefined;
}

function mappings(): Mapping[] {
  const out: Mapping[] = [];
  for (const line of File.readAllText('/proc/self/maps').split('\n')) {
    const [range, perms, offset, , , path] = line.trim().split(/\s+/);
    if (!range) continue;
    const [start, end] = range.split('-').map((h) => ptr(`0x${h}`));
    out.push({ start, end, executable: perms?.includes('x') ?? false, offset: parseInt(offset, 16), path });
  }
  return out;
}

/** The cloaked parts of every mapping, from /proc/self/maps. */
export function fridaRanges(): CodeRange[] {
  const out: CodeRange[] = [];
  for (const { start, end, executable, path } of mappings()) {
    const library = executable && path !== undefined;
    const size = distance(start, end);
    const visible = Cloak.clipRange({ base: start, size });
    if (visible === null) continue;
    let at = start;
    for (const v of [...visible].sort((a, b) => a.base.compare(b.base))) {
      if (v.base.compare(at) > 0) out.push({ base: at, size: distance(at, v.base), library });
      at = v.base.add(v.size);
    }
    if (end.compare(at) > 0) out.push({ base: at, size: distance(at, end), library });
  }
  return out;
}

/** Where Frida's agent libraries are loaded: the first page of each file whose code is cloaked. */
export function fridaLibraryBases(): NativePointer[] {
  const all = mappings();
  const cloakedCode = (m: Mapping) => m.executable && Cloak.clipRange({ base: m.start, size: distance(m.start, m.end) }) !== null;
  const files = new Set(all.filter((m) => m.path !== undefined && cloakedCode(m)).map((m) => m.path));
  return all.filter((m) => m.offset === 0 && files.has(m.path)).map((m) => m.start);
}
