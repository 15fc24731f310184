import { Kind } from '../schema/layout.generated.js';
import { AddressTable } from '../base/address-table.js';
import type { RecordDecoder } from '../capture/ring-records.js';
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
  /** Key -> where the block is in `states`, which keeps the order blocks were first seen in. */
  private readonly index = new AddressTable();
  private readonly states: BlockState[] = [];

  constructor(private readonly writer: BlockWriter) {
    for (const b of writer.stored()) this.keep(keyOf(b.locationId, b.size), { id: b.id, code: b.code, executions: 0 });
  }

  private keep(key: number, b: BlockState): void {
    const at = this.index.get(key);
    if (at >= 0) this.states[at] = b;
    else {
      this.index.set(key, this.states.length);
      this.states.push(b);
    }
  }

  /** The chunk's block and compile records, in order; `locationIds`: each record's location. A repeat runs its group's blocks again. */
  chunk(r: RecordDecoder, locationIds: Uint32Array): void {
    const { kinds, locations, targets } = r;
    for (let i = 0; i < r.count; i++) {
      const kind = kinds[i];
      if (kind === Kind.block) this.executed(i, r, locationIds, 1);
      else if (kind === Kind.repeat) {
        for (let j = i - locations[i]; j < i; j++) if (kinds[j] === Kind.block) this.executed(j, r, locationIds, targets[i]);
      } else if (kind === Kind.compile) {
        r.select(i);
        this.compiled(locationIds[i], r.location, r.target, r.compiledCode());
      }
    }
  }

  /** Block record `i` ran `times` times. */
  private executed(i: number, r: RecordDecoder, locationIds: Uint32Array, times: number): void {
    const start = r.locations[i];
    const end = r.targets[i];
    const at = this.index.get(keyOf(locationIds[i], end - start));
    if (at >= 0) this.states[at].executions += times;
    else this.keep(keyOf(locationIds[i], end - start), { id: this.writer.block(locationIds[i], start, end, null), code: null, executions: times });
  }

  /** Keeps a block's code once; code that changed at the same address (JIT) becomes a new block. */
  private compiled(locationId: number, start: number, end: number, code: Buffer): void {
    const key = keyOf(locationId, end - start);
    const at = this.index.get(key);
    const known = at >= 0 ? this.states[at] : undefined;
    if (known?.code?.equals(code)) return;
    if (known && known.code === null) {
      known.code = Buffer.from(code);
      this.writer.code(known.id, known.code);
      return;
    }
    const kept = Buffer.from(code);
    const b = { id: this.writer.block(locationId, start, end, kept), code: kept, executions: 0 };
    if (known) this.flushOne(known);
    this.keep(key, b);
  }

  /** Adds the executions counted since the last flush. */
  flush(): void {
    for (const b of this.states) this.flushOne(b);
  }

  private flushOne(b: BlockState): void {
    if (b.executions === 0) return;
    this.writer.executed(b.id, b.executions);
    b.executions = 0;
  }
}
