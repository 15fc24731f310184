import type { RegisterSet } from './registers.js';

/** A register's value: a general one as a 64-bit integer, a vector one as its bytes in memory order. */
export type RegisterValue = bigint | Buffer;

/**
 * One thread's registers as the instruction records tell them: every register of the sync list
 * from an insnsync record, then each value an instruction wrote. A register not written since
 * the last sync is unknown (undefined): flags and vector registers until an instruction writes them.
 */
export class RegisterState {
  private values: (RegisterValue | undefined)[] = [];

  constructor(readonly registers: RegisterSet) {}

  /** An insnsync: the sync list's values, in its order (undefined: unknown); everything else becomes unknown. */
  sync(values: readonly (bigint | undefined)[]): void {
    this.values = [];
    this.registers.sync.forEach((id, i) => {
      this.values[id] = values[i];
    });
  }

  /** An instruction wrote `id`; null: it wrote it, but the value was not recorded. */
  write(id: number, value: RegisterValue | null): void {
    this.values[id] = value ?? undefined;
  }

  get(id: number): RegisterValue | undefined {
    return this.values[id];
  }

  /** Every known value, by id. */
  *known(): Generator<[number, RegisterValue]> {
    for (const [id, v] of this.values.entries()) if (v !== undefined) yield [id, v];
  }
}
