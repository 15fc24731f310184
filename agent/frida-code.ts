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

/** The cloaked parts of every mapping, from /proc/self/maps. */
export function fridaRanges(): CodeRange[] {
  const out: CodeRange[] = [];
  for (const line of File.readAllText('/proc/self/maps').split('\n')) {
    const [range, perms, , , , path] = line.trim().split(/\s+/);
    if (!range) continue;
    const library = (perms?.includes('x') ?? false) && path !== undefined;
    const [start, end] = range.split('-').map((h) => ptr(`0x${h}`));
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
