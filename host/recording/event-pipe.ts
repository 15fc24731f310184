import { closeSync, constants, openSync, readSync } from 'node:fs';
import { Socket } from 'node:net';
import { wholeChunksLength } from '../capture/chunks.js';

const READ_BYTES = 1 << 20;

/**
 * The local device's transport: a thread of the agent's writes event chunks into a pipe, whose
 * reading end this opens through /proc/PID/fd, so chunks pass through neither JavaScript in the
 * target nor Frida's message channel. Hands on whole chunks in order and counts their bytes,
 * which the agent's messages refer to (their `through`).
 */
export class EventPipe {
  /** Bytes handed on: whole chunks. */
  consumed = 0;
  private tail: Buffer | null = null;

  private constructor(private readonly socket: Socket, private readonly rest: number,
    private readonly onChunks: (chunks: Buffer) => void, onError: (e: Error) => void) {
    socket.on('error', onError);
    socket.on('data', (piece: Buffer) => {
      try {
        this.take(piece);
      } catch (e) {
        socket.destroy();
        onError(e as Error);
      }
    });
  }

  /** null where the process's descriptors are not ours to open (another user's process). */
  static open(pid: number, fd: number, onChunks: (chunks: Buffer) => void, onError: (e: Error) => void): EventPipe | null {
    const path = `/proc/${pid}/fd/${fd}`;
    const opened: number[] = [];
    try {
      // Two descriptions of the same pipe: one the event loop reads, one for reading what is left at the end.
      for (let i = 0; i < 2; i++) opened.push(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
    } catch {
      for (const d of opened) closeSync(d);
      return null;
    }
    return new EventPipe(new Socket({ fd: opened[0], readable: true, writable: false }), opened[1], onChunks, onError);
  }

  private take(piece: Buffer): void {
    const stream = this.tail === null ? piece : Buffer.concat([this.tail, piece]);
    const whole = wholeChunksLength(stream);
    this.tail = whole === stream.length ? null : stream.subarray(whole);
    if (whole === 0) return;
    this.consumed += whole;
    this.onChunks(stream.subarray(0, whole));
  }

  /**
   * Once nothing writes any more: reads what is left in the pipe and closes it. Returns the bytes
   * of a chunk cut short (its writer died while writing it), which are not handed on.
   */
  finish(): number {
    this.socket.destroy();
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.rest, buffer);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw e;
      }
      if (n === 0) break;
      this.take(Buffer.from(buffer.subarray(0, n)));
    }
    closeSync(this.rest);
    return this.tail?.length ?? 0;
  }
}
