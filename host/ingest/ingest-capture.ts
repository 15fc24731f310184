import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { CaptureReader } from '../capture/reader.js';
import { fsReason, UserError } from '../base/errors.js';
import { CaptureHeader } from '../schema/layout.generated.js';
import { closeFinished, createIndexes, openTraceForWriting, type TraceDb } from '../store/database.js';
import { describeWriteError } from '../store/write-errors.js';
import { FrameDamage } from './frame-damage.js';
import { Ingester, type IngestWarning } from './ingester.js';
import { planOutput } from './ingest-output.js';

/** Commit about this often (capture bytes), so a long ingest keeps its work if it is stopped. */
const COMMIT_BYTES = 64 << 20;

export interface IngestResult {
  /** Frames this run stored; 0 when the database already held the whole capture. */
  frames: number;
}

export interface IngestOptions {
  /** Store every frame before the first damaged one, saying what was left out, rather than refuse the capture. */
  keepGood?: boolean;
  /** Asked between frames: true stops the ingest with IngestInterrupted. */
  stopRequested?: () => boolean;
  /** Told how far the ingest has come, in capture bytes, about every PROGRESS_BYTES. */
  progress?: (position: number, end: number) => void;
}

const PROGRESS_BYTES = 8 << 20;

/** The ingest was asked to stop: a new database was not created, a continued one keeps what it stored. */
export class IngestInterrupted extends UserError {}

function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}

/** Renames a finished build to its name, once on disk: it was written without syncing. */
function moveIntoPlace(building: string, dbPath: string): void {
  const fd = openSync(building, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(building, dbPath);
}

/** Makes the empty file a new trace is built in, saying in the user's terms why it cannot be. */
function createAside(building: string, dbPath: string): void {
  try {
    removeDatabase(building);
    closeSync(openSync(building, 'w'));
  } catch (e) {
    throw new UserError(`cannot create ${dbPath}: ${fsReason(e)}`);
  }
}

/**
 * Where the frames to store end: the whole capture less a torn tail, or with `keepGood`, less
 * everything from the first damaged frame on. A capture without one complete frame is refused.
 */
function framesEnd(reader: CaptureReader, warn: IngestWarning, keepGood: boolean): number {
  const scan = reader.scan({ stopAtDamage: keepGood });
  if (scan.damage) {
    const { offset, reason } = scan.damage;
    if (scan.frames === 0) throw new UserError(`${reader.corrupt(offset, reason).message}; no frame before it can be kept`);
    warn(leftOut(reader, offset, reason, offset, null));
    return scan.end;
  }
  if (scan.frames === 0) throw new UserError(`${reader.path} holds no complete frame: nothing was recorded in it`);
  if (scan.truncated) {
    warn(`${reader.path}: dropped a torn last frame at byte offset ${scan.truncated.offset} (${scan.truncated.reason}); everything before it is kept`);
  }
  return scan.end;
}

/** What --keep-good left out: everything from the damaged frame at `cut` on (`frames` of them, where they are known). */
function leftOut(reader: CaptureReader, offset: number, reason: string, cut: number, frames: number | null): string {
  const bytes = `${(reader.size - cut).toLocaleString('en-US')} bytes`;
  return `${reader.corrupt(offset, reason).message}; kept every frame before it and left out ` +
    `${frames === null ? bytes : `${frames} frames (${bytes})`} from byte offset ${cut} to the end`;
}

/**
 * Ingests a capture into a trace database. The capture is checked whole first, so a damaged one
 * writes nothing; a new database is built beside its final name and appears only when complete.
 * Into an existing database of the same capture, ingest continues from where it stopped.
 */
export function ingestCapture(capturePath: string, dbPath: string, warn: IngestWarning, options: IngestOptions = {}): IngestResult {
  const reader = CaptureReader.open(capturePath);
  try {
    const keepGood = options.keepGood === true;
    const end = framesEnd(reader, warn, keepGood);
    const plan = planOutput(dbPath, capturePath, reader.info.captureId, end);
    if (plan === 'complete') return { frames: 0 };
    const store = (to: number) => storeFrames(reader, dbPath, plan === 'create', to, warn, options);
    try {
      return store(end);
    } catch (e) {
      if (!(e instanceof FrameDamage)) throw e;
      const first = e.frameOffset === CaptureHeader.size;
      if (!keepGood || first) {
        throw new UserError(`${reader.corrupt(e.offset, e.reason).message}; ${first ? 'no frame before it can be kept'
          : 'run ingest again with --keep-good to keep every frame before it'}`);
      }
      // Frames are decoded only as they are stored: what the failed run wrote was undone, so store again, up to the damage.
      let frames = 0;
      for (const _ of reader.frames(e.frameOffset, end)) frames++;
      warn(leftOut(reader, e.offset, e.reason, e.frameOffset, frames));
      return store(e.frameOffset);
    }
  } finally {
    reader.close();
  }
}

function interrupted(dbPath: string, capturePath: string, fresh: boolean, position: number): IngestInterrupted {
  return new IngestInterrupted(fresh ? `interrupted: ${dbPath} was not created` : `interrupted: ${dbPath} keeps everything up to ` +
    `byte offset ${position} of ${capturePath}; run the same ingest again to continue`);
}

/**
 * Stores the frames before `end`. A new database (`fresh`) is built aside with no journal, since
 * it is discarded whole if anything fails, and renamed into place once complete.
 */
function storeFrames(reader: CaptureReader, dbPath: string, fresh: boolean, end: number, warn: IngestWarning,
  options: IngestOptions): IngestResult {
  const stopRequested = options.stopRequested ?? (() => false);
  const building = fresh ? `${dbPath}.partial` : dbPath;
  if (fresh) createAside(building, dbPath);
  let db: TraceDb | undefined;
  let ingester: Ingester | undefined;
  try {
    db = openTraceForWriting(building, fresh ? 'off' : 'wal');
    ingester = new Ingester(db, reader.info, warn);
    let frames = 0;
    let committed = ingester.position;
    let told = ingester.position;
    for (const frame of reader.frames(ingester.position, end)) {
      if (options.progress !== undefined && frame.offset - told >= PROGRESS_BYTES) {
        options.progress(frame.offset, end);
        told = frame.offset;
      }
      if (stopRequested()) {
        // Between frames the stored state is whole: a continued trace keeps it.
        if (!fresh) ingester.finish();
        throw interrupted(dbPath, reader.path, fresh, ingester.position);
      }
      ingester.frame(frame);
      frames++;
      if (frame.end - committed >= COMMIT_BYTES) {
        ingester.commit();
        committed = frame.end;
      }
    }
    ingester.finish();
    createIndexes(db);
    if (fresh && stopRequested()) throw interrupted(dbPath, reader.path, fresh, ingester.position);
    closeFinished(db);
    if (fresh) moveIntoPlace(building, dbPath);
    return { frames };
  } catch (e) {
    // Described before the file goes: its size tells the file size limit from other write errors.
    const failure = describeWriteError(dbPath, e, building);
    if (db?.open && !fresh) {
      // A continued trace keeps what it committed, left as one file where the disk allows.
      ingester?.abort();
      try {
        closeFinished(db);
      } catch {
        // Still in WAL mode, and still whole: the next ingest or reader copes.
      }
    }
    if (db?.open) db.close();
    if (fresh) removeDatabase(building);
    throw failure;
  }
}
