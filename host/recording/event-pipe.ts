import { closeSync, constants, openSync, readSync } from 'node:fs';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { wholeChunksLength } from '../capture/chunks.js';

/** A pipe of the agent's holds 1 MiB: read it whole, not in a stream's 64 KiB pieces, which wake its writer sixteen times as often. */
const READ_BYTES = 1 << 20;

/**
 * The local device's transport: a thread of the agent's writes event chunks into a pipe, whose
 * reading end this opens through /proc/PID/fd, so chunks pass through neither JavaScript in the
 * target nor Frida's message channel. Hands on whole chunks in order and counts their bytes,
 * which the agent's messages refer to (their `through`). What onChunks is given is valid during
 * the call only.
 */
export class EventPipe {
  /** Bytes handed on: whole chunks. */
  consumed = 0;
  private tail: Buffer | null = null;
  private readonly buffer = Buffer.allocUnsafe(READ_BYTES);
  private readonly socket: Socket;

  /** `rest`: a second description of the pipe, for reading what is left once the event loop has stopped reading. */
  private constructor(fd: number, private readonly rest: number, private readonly onChunks: (chunks: Buffer) => void,
    onError: (e: Error) => void) {
    // onread (reads into one buffer of ours) is taken by the constructor too, though Node's types list it for connect() only.
    this.socket = new Socket({
      fd, readable: true, writable: false,
      onread: {
        buffer: this.buffer,
        callback: (n: number) => {
          try {
            this.take(this.buffer.subarray(0, n));
          } catch (e) {
            this.socket.destroy();
            onError(e as Error);
          }
          return true;
        },
      },
    } as SocketConstructorOpts & { onread: OnReadOpts });
    this.socket.on('error', onError);
  }

  /** null where the process's descriptors are not ours to open (another user's process). */
  static open(pid: number, fd: number, onChunks: (chunks: Buffer) => void, onError: (e: Error) => void): EventPipe | null {
    const path = `/proc/${pid}/fd/${fd}`;
    const opened: number[] = [];
    try {
      for (let i = 0; i < 2; i++) opened.push(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
    } catch {
      for (const d of opened) closeSync(d);
      return null;
    }
    return new EventPipe(opened[0], opened[1], onChunks, onError);
  }

  private take(piece: Buffer): void {
    const stream = this.tail === null ? piece : Buffer.concat([this.tail, piece]);
    const whole = wholeChunksLength(stream);
    // What waits for the rest of its chunk is copied: the read buffer is reused.
    this.tail = whole === stream.length ? null : Buffer.from(stream.subarray(whole));
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
    for (;;) {
      let n: number;
      try {
        n = readSync(this.rest, this.buffer, 0, READ_BYTES, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw e;
      }
      if (n === 0) break;
      this.take(this.buffer.subarray(0, n));
    }
    closeSync(this.rest);
    return this.tail?.length ?? 0;
  }
}
