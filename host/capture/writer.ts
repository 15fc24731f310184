import { closeSync, fsync, fsyncSync, openSync, writeSync, writevSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { ArchName, MetaMessage } from '../schema/layout.generated.js';
import { encodeCaptureHeader, encodeFrameHeader, type FrameTypeName } from './version.js';

const SYNC_INTERVAL_MS = 1000;

/**
 * Appends frames to a capture file. Every frame reaches the kernel when append returns,
 * so a crash of this process loses nothing; fsync once a second bounds what a machine crash loses.
 */
export class CaptureWriter {
  private lastSync = Date.now();
  private closed = false;
  /** An fsync under way off this thread: the descriptor is closed once it is done. */
  private syncing = false;
  private syncError: Error | null = null;

  private constructor(private readonly fd: number, public bytesWritten: number, readonly captureId: string) {}

  /** Creates a new capture; an existing file is never overwritten. */
  static create(path: string, info: { arch: ArchName; pointerSize: number; captureId?: string }): CaptureWriter {
    const captureId = info.captureId ?? randomBytes(16).toString('hex');
    const fd = openSync(path, 'wx');
    const header = encodeCaptureHeader({ arch: info.arch, pointerSize: info.pointerSize, captureId });
    writeSync(fd, header);
    return new CaptureWriter(fd, header.length, captureId);
  }

  appendMeta(message: MetaMessage): void {
    this.append('meta', Buffer.from(JSON.stringify(message), 'utf8'));
  }

  appendEvents(payload: Uint8Array): void {
    this.append('events', payload);
  }

  private append(type: FrameTypeName, payload: Uint8Array): void {
    const header = encodeFrameHeader(type, payload);
    const total = header.length + payload.length;
    let written = writevSync(this.fd, [header, payload], this.bytesWritten);
    while (written < total) {
      const rest = Buffer.concat([header, payload]).subarray(written);
      written += writeSync(this.fd, rest, 0, rest.length, this.bytesWritten + written);
    }
    this.bytesWritten += total;
    if (Date.now() - this.lastSync >= SYNC_INTERVAL_MS && !this.syncing) this.syncInBackground();
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
