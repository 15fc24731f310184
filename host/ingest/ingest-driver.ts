import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import type { CaptureReader } from '../capture/reader.js';
import { fsReason, UserError } from '../base/errors.js';
import { closeFinished, createIndexes, openTraceForWriting, type TraceDb } from '../store/database.js';
import { describeWriteError } from '../store/write-errors.js';
import { Ingester, type IngestWarning } from './ingester.js';

/** How a kind of ingest builds its trace. */
export interface IngestPolicy {
  /**
   * Built beside its name with no journal, and renamed into place once complete: a new trace
   * from a finished capture, discarded whole if anything fails. Otherwise the trace is written
   * in place, write-ahead logged, and keeps what was committed.
   */
  aside: boolean;
  /** Commit after this many capture bytes stored, or this many milliseconds, since the last commit. */
  commitEvery: { bytes: number } | { ms: number };
}

export interface IngestControl {
  /** Asked between frames: true stops the ingest with IngestInterrupted. */
  stopRequested?: () => boolean;
  /** Told how far the ingest has come, in capture bytes, about every PROGRESS_BYTES. */
  progress?: (position: number, end: number) => void;
}

const PROGRESS_BYTES = 8 << 20;

/** The ingest was asked to stop: a trace built aside was not created, one written in place keeps what it stored. */
export class IngestInterrupted extends UserError {}

function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}

/** Makes the empty file a trace is built aside in, saying in the user's terms why it cannot be. */
function createAside(building: string, dbPath: string): void {
  try {
    removeDatabase(building);
    closeSync(openSync(building, 'w'));
  } catch (e) {
    throw new UserError(`cannot create ${dbPath}: ${fsReason(e)}`);
  }
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

/**
 * The one ingest loop: frames stored, committed as the policy says, then the trace finished,
 * indexed and closed. An ingest of a finished capture runs it once to the capture's end; a live
 * ingest runs it again each time the capture grows. The Ingester keeps where it stopped, so each
 * run continues from there.
 */
export class IngestDriver {
  private readonly building: string;
  private db: TraceDb | undefined;
  private ingester: Ingester | undefined;
  private committedBytes = 0;
  private committedAt = Date.now();
  private toldAt = 0;

  constructor(private readonly reader: CaptureReader, private readonly dbPath: string, private readonly policy: IngestPolicy,
    warn: IngestWarning, private readonly control: IngestControl = {}) {
    this.building = policy.aside ? `${dbPath}.partial` : dbPath;
    if (policy.aside) createAside(this.building, dbPath);
    try {
      this.db = openTraceForWriting(this.building, policy.aside ? 'off' : 'wal');
      this.ingester = new Ingester(this.db, reader.info, warn);
    } catch (e) {
      throw this.fail(e);
    }
    this.committedBytes = this.toldAt = this.ingester.position;
  }

  /** Events stored by this ingest. */
  get storedEvents(): number {
    return this.ingester!.storedEvents;
  }

  /** Stores the frames before capture byte `end`, which may lie past where the capture ended when the driver began; returns how many. */
  storeTo(end: number): number {
    const ingester = this.ingester!;
    const { stopRequested, progress } = this.control;
    this.reader.grow(end);
    let frames = 0;
    for (const frame of this.reader.frames(ingester.position, end)) {
      if (progress !== undefined && frame.offset - this.toldAt >= PROGRESS_BYTES) {
        progress(frame.offset, end);
        this.toldAt = frame.offset;
      }
      if (stopRequested?.()) {
        // Between frames the stored state is whole: a trace written in place keeps it.
        if (!this.policy.aside) ingester.finish();
        throw this.interrupted();
      }
      ingester.frame(frame);
      frames++;
      this.commitIfDue();
    }
    return frames;
  }

  private commitIfDue(): void {
    const every = this.policy.commitEvery;
    const position = this.ingester!.position;
    if ('bytes' in every ? position - this.committedBytes < every.bytes : Date.now() - this.committedAt < every.ms) return;
    this.ingester!.commit();
    this.committedBytes = position;
    this.committedAt = Date.now();
  }

  private interrupted(): IngestInterrupted {
    const { dbPath, reader } = this;
    return new IngestInterrupted(this.policy.aside ? `interrupted: ${dbPath} was not created` : `interrupted: ${dbPath} keeps ` +
      `everything up to byte offset ${this.ingester!.position} of ${reader.path}; run the same ingest again to continue`);
  }

  /** Commits the rest, builds the indexes and leaves the trace as one file under its name. */
  finish(): void {
    const db = this.db!;
    this.ingester!.finish();
    createIndexes(db);
    if (this.policy.aside && this.control.stopRequested?.()) throw this.interrupted();
    closeFinished(db);
    if (this.policy.aside) moveIntoPlace(this.building, this.dbPath);
  }

  /**
   * After a failure: a trace written in place keeps what it committed, one built aside is
   * removed. Returns the failure, a write error told in one sentence naming the trace.
   */
  fail(e: unknown): unknown {
    // Described before the file goes: its size tells the file size limit from other write errors.
    const failure = describeWriteError(this.dbPath, e, this.building);
    const db = this.db;
    if (db?.open && !this.policy.aside) {
      // Left as one file where the disk allows.
      this.ingester?.abort();
      try {
        closeFinished(db);
      } catch {
        // Still in WAL mode, and still whole: the next ingest or reader copes.
      }
    }
    if (db?.open) db.close();
    if (this.policy.aside) removeDatabase(this.building);
    return failure;
  }
}
