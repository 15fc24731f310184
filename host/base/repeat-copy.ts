/**
 * Writes `times` more copies of bytes [first, at) of `out` from `at` on; returns where they end.
 * The copies so far are whole groups from `first`: copying them doubles them, so a loop of
 * thousands takes a few calls. `out` must have the room.
 */
export function copyRepeats(out: Buffer, first: number, at: number, times: number): number {
  const end = at + (at - first) * times;
  let o = at;
  while (o < end) {
    const n = Math.min(o - first, end - o);
    out.copyWithin(o, first, first + n);
    o += n;
  }
  return end;
}
