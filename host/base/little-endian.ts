// Little-endian integers wider than 32 bits, as numbers. The formats' wide fields hold addresses
// (48 bits) and counts, ids and times that stay below 2^53, where a number is exact; DataView's
// BigInt accessors would allocate on every hot-path read. And a 64-bit value's bytes as they lie
// in memory.

const TWO_32 = 4294967296;

export function readU48(v: DataView, at: number): number {
  return v.getUint16(at + 4, true) * TWO_32 + v.getUint32(at, true);
}

export function readU64(v: DataView, at: number): number {
  return v.getUint32(at + 4, true) * TWO_32 + v.getUint32(at, true);
}

// The setters keep their value modulo 2^16 or 2^32 themselves: a `%` here would be a
// floating-point remainder, slower than the rest of the write.

export function writeU48(v: DataView, at: number, value: number): void {
  v.setUint32(at, value, true);
  v.setUint16(at + 4, Math.floor(value / TWO_32), true);
}

export function writeU64(v: DataView, at: number, value: number): void {
  v.setUint32(at, value, true);
  v.setUint32(at + 4, Math.floor(value / TWO_32), true);
}

/** An integer's low `size` bytes (at most 8), little-endian: a value as it lies in memory. */
export function lowBytes(value: bigint, size: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt.asUintN(64, value));
  return bytes.subarray(0, size);
}
