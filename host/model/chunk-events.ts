/** The kind a record that is not an event (an instruction record) has among a chunk's events: no record kind is 0. */
export const NOT_AN_EVENT = 0;

/**
 * One chunk's events as the ingest builds them, a typed array per field and an entry per record:
 * the ingest resolves each record's location and value, the call stacks give each its depth,
 * and the event writer stores them. A repeat record (a loop, kept by chunksOf) is an entry too:
 * its location is the entries right before it that repeat, its value how many more times. Passes over typed arrays allocate nothing per event.
 */
export class ChunkEvents {
  count = 0;
  /** Each record's kind, or NOT_AN_EVENT. */
  kinds = new Uint8Array(0);
  locationIds = new Uint32Array(0);
  /** What the kind stores besides its location: a call's callee, a return's target, a block's size... */
  values = new Float64Array(0);
  depths = new Int32Array(0);
  /** After a record that is not an event: the instruction seq the trace has reached. */
  insnSeqs = new Float64Array(0);
  /**
   * A repeat record's copies stored one by one, each with its own depths, before the rest repeat
   * the last of them (or the group itself, where there are none): a loop whose first runs left
   * the call stack other than they found it (see CallStacks.pair).
   */
  copiesApart = new Float64Array(0);
  /** Where in copyDepths a repeat's copies stored one by one have their depths, the group's span for each. */
  copyDepthsAt = new Int32Array(0);
  copyDepths = new Int32Array(256);
  copyDepthsUsed = 0;

  /** Room for `n` more depths of copies; returns where they start. */
  reserveCopyDepths(n: number): number {
    const at = this.copyDepthsUsed;
    if (at + n > this.copyDepths.length) {
      const grown = new Int32Array(Math.max(at + n, this.copyDepths.length * 2));
      grown.set(this.copyDepths.subarray(0, at));
      this.copyDepths = grown;
    }
    this.copyDepthsUsed = at + n;
    return at;
  }

  /** Makes room for `count` records; the entries are stale until written. */
  reset(count: number): void {
    this.count = count;
    this.copyDepthsUsed = 0;
    if (this.kinds.length >= count) return;
    const size = Math.max(count, this.kinds.length * 2);
    this.kinds = new Uint8Array(size);
    this.locationIds = new Uint32Array(size);
    this.values = new Float64Array(size);
    this.depths = new Int32Array(size);
    this.insnSeqs = new Float64Array(size);
    this.copiesApart = new Float64Array(size);
    this.copyDepthsAt = new Int32Array(size);
  }
}
