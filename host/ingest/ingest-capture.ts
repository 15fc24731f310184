import { existsSync, renameSync, rmSync } from 'node:fs';
import { CaptureReader } from '../capture/reader.js';
import { UserError } from '../cli/errors.js';
import { checkNotNewer, closeFinished, createIndexes, inspectTrace, openTraceForWriting } from '../store/database.js';
import { Ingester, type IngestWarning } from './ingester.js';

/** Commit about this often (capture bytes), so a long ingest keeps its work if it is stopped. */
const COMMIT_BYTES = 64 << 20;

export interface IngestResult {
  /** Frames this run stored; 0 when the database already held the whole capture. */
  frames: number;
}

function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}

/**
 * Ingests a capture into a trace database. The capture is checked whole first, so a damaged one
 * writes nothing; a new database is built beside its final name and appears only when complete.
 * Into an existing database of the same capture, ingest continues from where it stopped.
 */
export function ingestCapture(capturePath: string, dbPath: string, warn: IngestWarning): IngestResult {
  const reader = CaptureReader.open(capturePath);
  try {
    const scan = reader.scan();
    if (scan.truncated) {
      warn(`${capturePath}: dropped a torn last frame at byte offset ${scan.truncated.offset} (${scan.truncated.reason}); everything before it is kept`);
    }
    const fresh = !existsSync(dbPath);
    if (!fresh) {
      const { version, captureId: held } = inspectTrace(dbPath);
      checkNotNewer(dbPath, version);
      if (held !== null && held !== reader.info.captureId) {
        throw new UserError(`${dbPath} holds another capture (${held}), not ${capturePath} (${reader.info.captureId}); choose another output file`);
      }
    }
    const building = fresh ? `${dbPath}.partial` : dbPath;
    if (fresh) removeDatabase(building);
    const db = openTraceForWriting(building);
    // A new database is built aside and discarded whole if anything fails: no journal to keep.
    if (fresh) {
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
    }
    let ingester: Ingester | undefined;
    try {
      ingester = new Ingester(db, reader.info, warn);
      const start = ingester.position;
      let frames = 0;
      let committed = start;
      for (const frame of reader.frames(start, scan.end)) {
        ingester.frame(frame);
        frames++;
        if (frame.end - committed >= COMMIT_BYTES) {
          ingester.commit();
          committed = frame.end;
        }
      }
      ingester.finish();
      createIndexes(db);
      closeFinished(db);
      if (fresh) renameSync(building, dbPath);
      return { frames };
    } catch (e) {
      ingester?.abort();
      if (db.open) db.close();
      if (fresh) removeDatabase(building);
      throw e;
    }
  } finally {
    reader.close();
  }
}
