import type { BlockWriter } from '../store/block-writer.js';

interface BlockState {
  id: number;
  code: Buffer | null;
  executions: number;
}

/** A block is known by its start location and its size (blocks are far shorter than 65536 bytes). */
const keyOf = (locationId: number, size: number) => locationId * 65536 + size;

/**
 * Basic blocks: each stored once, with its code where a compile record sent it, and executions
 * counted between flushes. Blocks an earlier ingest stored are known again.
 */
export class Blocks {
  private readonly known = new Map<number, BlockState>();

  constructor(private readonly writer: BlockWriter) {
    for (const b of writer.stored()) this.known.set(keyOf(b.locationId, b.size), { id: b.id, code: b.code, executions: 0 });
  }

  /** A block ran. */
  executed(locationId: number, start: number, end: number): void {
    const key = keyOf(locationId, end - start);
    let b = this.known.get(key);
    if (!b) {
      b = { id: this.writer.block(locationId, start, end, null), code: null, executions: 0 };
      this.known.set(key, b);
    }
    b.executions++;
  }

  /** Keeps a block's code once; code that changed at the same address (JIT) becomes a new block. */
  compiled(locationId: number, start: number, end: number, code: Buffer): void {
    const key = keyOf(locationId, end - start);
    const known = this.known.get(key);
    if (known?.code?.equals(code)) return;
    if (known && known.code === null) {
      known.code = Buffer.from(code);
      this.writer.code(known.id, known.code);
      return;
    }
    const kept = Buffer.from(code);
    const b = { id: this.writer.block(locationId, start, end, kept), code: kept, executions: 0 };
    if (known) this.flushOne(known);
    this.known.set(key, b);
  }

  /** Adds the executions counted since the last flush. */
  flush(): void {
    for (const b of this.known.values()) this.flushOne(b);
  }

  private flushOne(b: BlockState): void {
    if (b.executions === 0) return;
    this.writer.executed(b.id, b.executions);
    b.executions = 0;
  }
}
