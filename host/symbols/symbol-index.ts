/** One module's function symbols, sorted by offset, for nearest-preceding lookups. */
export class SymbolIndex {
  private readonly offsets: Float64Array;
  private readonly sizes: Float64Array;
  private readonly names: string[];
  private readonly ids: Int32Array;

  /** `symbols` are [offset, size, name, id]; size 0 means unknown. */
  constructor(symbols: ReadonlyArray<readonly [number, number, string, number]>) {
    // Aliases at one offset: the one a reader knows first (write before __libc_write): fewest
    // leading underscores, then the shortest.
    const underscores = (name: string) => /^_*/.exec(name)![0].length;
    const sorted = [...symbols].sort((a, b) => a[0] - b[0] || underscores(a[2]) - underscores(b[2]) || a[2].length - b[2].length);
    this.offsets = Float64Array.from(sorted, (s) => s[0]);
    // The name chosen for an offset keeps the largest size any of its aliases knows.
    const largest = new Map<number, number>();
    for (const [offset, size] of sorted) largest.set(offset, Math.max(size, largest.get(offset) ?? 0));
    this.sizes = Float64Array.from(sorted, (s) => largest.get(s[0])!);
    this.names = sorted.map((s) => s[2]);
    this.ids = Int32Array.from(sorted, (s) => s[3]);
  }

  private byName: Map<string, number> | null = null;

  /** The offset of the first symbol with this name, or undefined. */
  offsetOf(name: string): number | undefined {
    if (this.byName === null) {
      this.byName = new Map();
      for (let i = this.names.length - 1; i >= 0; i--) this.byName.set(this.names[i], this.offsets[i]);
    }
    return this.byName.get(name);
  }

  get length(): number {
    return this.names.length;
  }

  /** Every name a symbol at exactly this offset has (aliases share an address). */
  namesAt(offset: number): string[] {
    let lo = 0;
    let hi = this.offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    const names: string[] = [];
    for (let i = lo; i < this.offsets.length && this.offsets[i] === offset; i++) {
      if (!names.includes(this.names[i])) names.push(this.names[i]);
    }
    return names;
  }

  /**
   * The symbol an offset falls in: the nearest one at or before it, unless its known size ends
   * before the offset (then the offset is in unnamed code).
   */
  lookup(offset: number): { id: number; name: string; delta: number } | undefined {
    let lo = 0;
    let hi = this.offsets.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid] <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return undefined;
    // Of the aliases at that offset, the first is the one chosen for it (see the constructor).
    while (found > 0 && this.offsets[found - 1] === this.offsets[found]) found--;
    const delta = offset - this.offsets[found];
    if (this.sizes[found] !== 0 && delta >= this.sizes[found]) return undefined;
    return { id: this.ids[found], name: this.names[found], delta };
  }
}
