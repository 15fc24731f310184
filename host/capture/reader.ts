import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fsReason } from '../base/errors.js';
import { CaptureHeader, FrameHeader } from '../schema/layout.generated.js';
import { UserError } from '../base/errors.js';
import { decodeCaptureHeader, decodeFrameHeader, payloadMatches, type CaptureInfo, type FrameTypeName } from './version.js';

export interface CaptureFrame {
  offset: number;
  end: number;
  type: FrameTypeName;
  /** Valid until the next frame is read. */
  payload: Buffer;
}

export interface ScanResult {
  frames: number;
  /** Offset just past the last whole frame. */
  end: number;
  /** Set when the file ends in a torn frame, which was left out. */
  truncated?: { offset: number; reason: string };
  /** Set, when asked to stop there, at damage before the last frame: nothing from it on is counted. */
  damage?: { offset: number; reason: string };
}

const BLOCK = 8 << 20;

/** Reads a capture file front to back in large blocks, so memory stays flat however long it is. */
export class CaptureReader {
  readonly info: CaptureInfo;
  size: number;
  private buf = Buffer.allocUnsafeSlow(BLOCK);
  private bufStart = 0;
  private bufLen = 0;

  private constructor(private readonly fd: number, readonly path: string) {
    this.size = fstatSync(fd).size;
    const header = this.bytes(0, Math.min(CaptureHeader.size, this.size));
    const info = decodeCaptureHeader(header);
    if (typeof info === 'string') {
      closeSync(fd);
      throw new UserError(`${path}: ${info}`);
    }
    this.info = info;
  }

  static open(path: string): CaptureReader {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new UserError(`cannot open capture ${path}: ${fsReason(e)}`);
    }
    if (fstatSync(fd).isDirectory()) {
      closeSync(fd);
      throw new UserError(`cannot open capture ${path}: it is a directory`);
    }
    return new CaptureReader(fd, path);
  }

  close(): void {
    closeSync(this.fd);
  }

  /** The file was appended to (a recording in progress): frames up to `size` can be read. */
  grow(size: number): void {
    this.size = Math.max(this.size, size);
  }

  /** Bytes [offset, offset + length) of the file; the view is valid until the next call. */
  private bytes(offset: number, length: number): Buffer {
    if (offset < this.bufStart || offset + length > this.bufStart + this.bufLen) {
      if (length > this.buf.length) this.buf = Buffer.allocUnsafeSlow(length);
      this.bufStart = offset;
      this.bufLen = 0;
      const want = Math.min(this.buf.length, this.size - offset);
      while (this.bufLen < want) {
        const n = readSync(this.fd, this.buf, this.bufLen, want - this.bufLen, offset + this.bufLen);
        if (n === 0) break;
        this.bufLen += n;
      }
    }
    return this.buf.subarray(offset - this.bufStart, offset - this.bufStart + length);
  }

  private allZero(offset: number): boolean {
    for (let at = offset; at < this.size; at += BLOCK) {
      const chunk = this.bytes(at, Math.min(BLOCK, this.size - at));
      if (chunk.some((byte) => byte !== 0)) return false;
    }
    return true;
  }

  /**
   * Checks every frame. A torn last frame (a crash mid-write, or a zero-filled tail) is reported
   * in `truncated`; damage before the last frame throws, naming its byte offset, or with
   * `stopAtDamage` is reported in `damage`, so the frames before it can still be used.
   */
  scan({ stopAtDamage = false } = {}): ScanResult {
    let offset: number = CaptureHeader.size;
    let frames = 0;
    const torn = (reason: string): ScanResult => ({ frames, end: offset, truncated: { offset, reason } });
    const damaged = (reason: string): ScanResult => {
      if (stopAtDamage) return { frames, end: offset, damage: { offset, reason } };
      throw this.corrupt(offset, reason);
    };
    while (offset < this.size) {
      if (this.size - offset < FrameHeader.size) return torn('partial frame header');
      const header = decodeFrameHeader(this.bytes(offset, FrameHeader.size), 0);
      if (typeof header === 'string') {
        if (this.allZero(offset)) return torn('zero-filled tail');
        return damaged(header);
      }
      const end = offset + FrameHeader.size + header.length;
      if (end > this.size) return torn(`frame of ${header.length} bytes cut short at ${this.size - offset - FrameHeader.size}`);
      if (!payloadMatches(this.bytes(offset + FrameHeader.size, header.length), header)) {
        const reason = header.unchecked ? 'its chunks do not fill the frame' : 'payload checksum mismatch';
        if (end === this.size) return torn(`last frame: ${reason}`);
        return damaged(reason);
      }
      frames++;
      offset = end;
    }
    return { frames, end: offset };
  }

  corrupt(offset: number, reason: string): UserError {
    return new UserError(`${this.path} is corrupt at byte offset ${offset}: ${reason}`);
  }

  /** Frames from `from` up to `to` (exclusive), as checked by scan(). */
  *frames(from: number, to: number): Generator<CaptureFrame> {
    let offset = Math.max(from, CaptureHeader.size);
    while (offset < to) {
      const header = decodeFrameHeader(this.bytes(offset, FrameHeader.size), 0);
      if (typeof header === 'string') throw this.corrupt(offset, header);
      const end = offset + FrameHeader.size + header.length;
      yield { offset, end, type: header.type, payload: this.bytes(offset + FrameHeader.size, header.length) };
      offset = end;
    }
  }
}
