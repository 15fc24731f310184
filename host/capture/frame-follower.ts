import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ChunkHeader, FrameHeader } from '../schema/layout.generated.js';
import { readChunkHeader, type Chunk } from './chunks.js';
import { decodeFrameHeader } from './version.js';

export type ChunkSummary = Pick<Chunk, 'threadId' | 'recordCount' | 'lost'>;

/**
 * Follows a capture that another process appends to beside this one (the agent, on the local
 * device): finds where its whole frames end, so that only those are ingested, and hands on each
 * event chunk's header. It reads frame and chunk headers only, never the records.
 */
export class FrameFollower {
  private readonly fd: number;
  private readonly header = Buffer.alloc(Math.max(FrameHeader.size, ChunkHeader.size));

  /** `end`: where the whole frames known so far end (a frame starts there). */
  constructor(readonly path: string, public end: number, private readonly onChunk: (chunk: ChunkSummary) => void) {
    this.fd = openSync(path, 'r');
  }

  /** Reads on to the file's end; returns where its whole frames end. Throws at a damaged frame header. */
  advance(): number {
    const size = fstatSync(this.fd).size;
    while (size - this.end >= FrameHeader.size) {
      const header = decodeFrameHeader(this.read(this.end, FrameHeader.size), 0);
      if (typeof header === 'string') throw new Error(`${this.path} is corrupt at byte offset ${this.end}: ${header}`);
      const frameEnd = this.end + FrameHeader.size + header.length;
      if (frameEnd > size) break;
      if (header.type === 'events') this.chunks(this.end + FrameHeader.size, frameEnd);
      this.end = frameEnd;
    }
    return this.end;
  }

  /** Bytes past the whole frames: a frame still being written, or one its writer died in. */
  get tail(): number {
    return fstatSync(this.fd).size - this.end;
  }

  close(): void {
    closeSync(this.fd);
  }

  private chunks(from: number, to: number): void {
    for (let at = from; at < to;) {
      const b = this.read(at, ChunkHeader.size);
      const { end, ...chunk } = readChunkHeader(new DataView(b.buffer, b.byteOffset, ChunkHeader.size), 0);
      if (at + end > to) throw new Error(`${this.path} is corrupt at byte offset ${at}: a chunk overruns its frame`);
      this.onChunk(chunk);
      at += end;
    }
  }

  private read(at: number, length: number): Buffer {
    if (readSync(this.fd, this.header, 0, length, at) !== length) throw new Error(`${this.path} ended inside a header at ${at}`);
    return this.header;
  }
}
