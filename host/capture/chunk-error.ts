/** A chunk whose bytes are not what the drain writes; `offset`: where the chunk starts in its frame's payload. */
export class ChunkError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}
