/** The kind a record that is not an event (an instruction record) has among a chunk's events: no record kind is 0. */
export const NOT_AN_EVENT = 0;

/**
 * One chunk's events as the ingest builds them, a typed array per field and an entry per record:
 * the ingest resolves each record's location and value, the call stacks give each its depth,
 * and the event writer stores them. Passes over typed arrays allocate nothing per event.
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

  /** Makes room for `count` records; the entries are stale until written. */
  reset(count: number): void {
    this.count = count;
    if (this.kinds.length >= count) return;
    const size = Math.max(count, this.kinds.length * 2);
    this.kinds = new Uint8Array(size);
    this.locationIds = new Uint32Array(size);
    this.values = new Float64Array(size);
    this.depths = new Int32Array(size);
    this.insnSeqs = new Float64Array(size);
  }
}
