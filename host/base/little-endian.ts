// Little-endian integers wider than 32 bits, as numbers. The formats' wide fields hold addresses
// (48 bits) and counts, ids and times that stay below 2^53, where a number is exact; DataView's
// BigInt accessors would allocate on every hot-path read.

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
