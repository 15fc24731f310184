import { closeSync, constants, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, writeSync, writevSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { ArchName, MetaMessage } from '../schema/layout.generated.js';
import { encodeCaptureHeader, encodeFrameHeader, type FrameTypeName } from './version.js';

const SYNC_INTERVAL_MS = 1000;

/**
 * Appends frames to a capture file. Every frame reaches the kernel when append returns,
 * so a crash of this process loses nothing; fsync once a second bounds what a machine crash loses.
 * The file is opened for appending, and each frame is one write: on the local device the agent
 * appends its own event frames to the same file, and no frame of one can split a frame of the other.
 */
export class CaptureWriter {
  private lastSync = Date.now();
  private closed = false;
  /** An fsync under way off this thread: the descriptor is closed once it is done. */
  private syncing = false;
  private syncError: Error | null = null;

  private constructor(private readonly fd: number, readonly captureId: string) {}

  /** Creates a new capture; an existing file is never overwritten. */
  static create(path: string, info: { arch: ArchName; pointerSize: number; captureId?: string }): CaptureWriter {
    const captureId = info.captureId ?? randomBytes(16).toString('hex');
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o644);
    const writer = new CaptureWriter(fd, captureId);
    writer.write([encodeCaptureHeader({ arch: info.arch, pointerSize: info.pointerSize, captureId })]);
    return writer;
  }

  /** The file's size: every frame appended so far, by this writer or beside it. */
  get size(): number {
    return fstatSync(this.fd).size;
  }

  appendMeta(message: MetaMessage): void {
    this.append('meta', Buffer.from(JSON.stringify(message), 'utf8'));
  }

  appendEvents(payload: Uint8Array): void {
    this.append('events', payload);
  }

  /**
   * Cuts the file back to `end`: a frame its writer was killed in the middle of, which nothing
   * can read, before anything more is appended after it.
   */
  cutBack(end: number): void {
    ftruncateSync(this.fd, end);
  }

  private append(type: FrameTypeName, payload: Uint8Array): void {
    this.write([encodeFrameHeader(type, payload), payload]);
    if (Date.now() - this.lastSync >= SYNC_INTERVAL_MS && !this.syncing) this.syncInBackground();
  }

  /** One write, never finished by a second: another process's frame may already follow a part. */
  private write(pieces: Uint8Array[]): void {
    const total = pieces.reduce((n, p) => n + p.length, 0);
    const written = pieces.length === 1 ? writeSync(this.fd, pieces[0]) : writevSync(this.fd, pieces);
    if (written !== total) throw new Error(`the capture took ${written} of a frame's ${total} bytes (is its disk full?)`);
  }

  /** Writing back hundreds of megabytes takes a while: appends go on meanwhile. */
  private syncInBackground(): void {
    this.syncing = true;
    this.lastSync = Date.now();
    fsync(this.fd, (e) => {
      this.syncing = false;
      this.syncError ??= e;
      if (this.closed) closeSync(this.fd);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fsyncSync(this.fd);
    if (!this.syncing) closeSync(this.fd);
    if (this.syncError !== null) throw this.syncError;
  }
}
