// A Bloom filter of the register values one instruction chunk writes (insn_chunks.value_filter):
// `reg_writes WHERE value = X` decodes only the chunks whose filter may hold X. Built at ingest
// and tested by the stalk_insn_may_hold SQL function of a query session, so the hash lives here
// alone. Layout: one byte k (the number of probes), then the bit array (bit i: byte i >> 3, bit
// i & 7). An empty filter (no bits) holds nothing.

/** Bits per distinct value: with 4 probes, about 2% of chunks without the value are read anyway. */
const BITS_PER_VALUE = 10;
const PROBES = 4;

/** murmur3's 32-bit finalizer: every input bit moves every output bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Two independent hashes of a 64-bit integer (its low and high halves); the second is odd, so probes never repeat one bit. */
export function hashInteger(lo: number, hi: number, out: Uint32Array, at: number): void {
  out[at] = mix(lo ^ mix(hi ^ 0x9e3779b9));
  out[at + 1] = mix(hi ^ mix(lo + 0x7f4a7c15)) | 1;
}

/** The same for a BLOB value (a vector register's bytes): a different seed, so bytes never collide with integers by design. */
export function hashBytes(bytes: Uint8Array, out: Uint32Array, at: number): void {
  let a = 0x811c9dc5;
  let b = 0x1b873593 ^ bytes.length;
  for (const x of bytes) {
    a = Math.imul(a ^ x, 0x01000193);
    b = Math.imul(b ^ x, 0x5bd1e995);
  }
  out[at] = mix(a);
  out[at + 1] = mix(b ^ 0x3c6ef372) | 1;
}

/** The filter of `count` hash pairs (hashes[2i], hashes[2i + 1]), sized by how many differ. */
export function buildFilter(hashes: Uint32Array, count: number): Buffer {
  const distinct = new Set<number>();
  for (let i = 0; i < count; i++) distinct.add(hashes[2 * i]);
  const bits = Math.max(64, Math.ceil((distinct.size * BITS_PER_VALUE) / 8) * 8);
  const filter = Buffer.alloc(1 + bits / 8);
  filter[0] = PROBES;
  for (let i = 0; i < count; i++) {
    for (let p = 0, h = hashes[2 * i]; p < PROBES; p++, h = (h + hashes[2 * i + 1]) >>> 0) {
      const bit = h % bits;
      filter[1 + (bit >>> 3)] |= 1 << (bit & 7);
    }
  }
  return filter;
}

const probe = new Uint32Array(2);

/**
 * Whether a filter may hold `value`, as a query passes it. Only an integer (or a float that is
 * one) or a BLOB can be ruled out; anything else may match as far as the filter knows.
 */
export function mayHold(filter: Buffer, value: unknown): boolean {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER) return true;
    value = BigInt(value);
  }
  if (typeof value === 'bigint') {
    const u = BigInt.asUintN(64, value);
    hashInteger(Number(u & 0xffffffffn), Number(u >> 32n), probe, 0);
  } else if (Buffer.isBuffer(value)) hashBytes(value, probe, 0);
  else return true;
  const bits = (filter.length - 1) * 8;
  if (bits === 0) return false;
  for (let p = 0, h = probe[0]; p < filter[0]; p++, h = (h + probe[1]) >>> 0) {
    const bit = h % bits;
    if ((filter[1 + (bit >>> 3)] & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}
