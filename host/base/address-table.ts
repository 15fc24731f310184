// A Map keyed by a 48-bit address boxes the address (it is no small integer) and hashes it on
// every lookup; the ingest looks one up for nearly every event. This table keeps the keys in a
// Float64Array and probes it directly, allocating nothing. Any integer key in [0, 2^53) works.

const TWO_32 = 4294967296;
const EMPTY = -1;

/** Address (or other integer key) -> non-negative integer id below 2^32, open addressing with linear probing. */
export class AddressTable {
  private keys = new Float64Array(0);
  private values = new Uint32Array(0);
  private mask = 0;
  private shift = 0;
  private count = 0;

  constructor(private readonly initialBits = 10) {
    this.reset(initialBits);
  }

  private reset(bits: number): void {
    this.keys = new Float64Array(1 << bits).fill(EMPTY);
    this.values = new Uint32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
    this.count = 0;
  }

  /** First slot of `address`'s probe sequence: Fibonacci hashing of its low word mixed with its high one. */
  private slot(address: number): number {
    return Math.imul((address >>> 0) ^ ((address / TWO_32) | 0), 0x9e3779b1) >>> this.shift;
  }

  /** The id of `address`, or -1 where it has none. */
  get(address: number): number {
    const keys = this.keys;
    for (let i = this.slot(address); ; i = (i + 1) & this.mask) {
      const key = keys[i];
      if (key === address) return this.values[i];
      if (key === EMPTY) return -1;
    }
  }

  set(address: number, id: number): void {
    const keys = this.keys;
    let i = this.slot(address);
    while (keys[i] !== address && keys[i] !== EMPTY) i = (i + 1) & this.mask;
    if (keys[i] === EMPTY) {
      keys[i] = address;
      // Kept at most half full, so a probe ends soon.
      if (++this.count * 2 > keys.length) {
        this.values[i] = id;
        this.grow();
        return;
      }
    }
    this.values[i] = id;
  }

  clear(): void {
    if (this.count > 0) this.reset(this.initialBits);
  }

  private grow(): void {
    const { keys, values } = this;
    this.reset(32 - this.shift + 1);
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) this.set(keys[i], values[i]);
  }
}
