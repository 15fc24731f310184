import { chunkHeadersOf } from '../capture/chunks.js';
import type { ChunkSummary } from '../capture/frame-follower.js';

/** What the agent sent so far, read from chunk headers only: for the progress line and the summary. */
export class RecordingStats {
  events = 0;
  private readonly lostByThread = new Map<number, number>();
  readonly threads = new Set<number>();

  add(payload: Uint8Array): void {
    for (const chunk of chunkHeadersOf(payload)) this.addChunk(chunk);
  }

  addChunk(chunk: ChunkSummary): void {
    this.events += chunk.recordCount;
    this.threads.add(chunk.threadId);
    this.lostByThread.set(chunk.threadId, Math.max(this.lostByThread.get(chunk.threadId) ?? 0, chunk.lost));
  }

  get lost(): number {
    let sum = 0;
    for (const n of this.lostByThread.values()) sum += n;
    return sum;
  }
}

const n = (v: number) => Math.round(v).toLocaleString('en-US');

/** One line, rewritten in place on a terminal: elapsed, events/s, stored, lost, threads. */
export function progressLine(stats: RecordingStats, stored: number, elapsedMs: number): string {
  const seconds = elapsedMs / 1000;
  return `${seconds.toFixed(1)} s  ${n(stats.events)} events (${n(stats.events / Math.max(seconds, 0.001))}/s)  ` +
    `stored ${n(stored)}  lost ${n(stats.lost)}  threads ${stats.threads.size}`;
}
