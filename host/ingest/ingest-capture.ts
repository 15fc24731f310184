import { CaptureReader } from '../capture/reader.js';
import { UserError } from '../base/errors.js';
import { CaptureHeader } from '../schema/layout.generated.js';
import { FrameDamage } from './frame-damage.js';
import type { IngestWarning } from './ingester.js';
import { IngestDriver, type IngestControl } from './ingest-driver.js';
import { planOutput } from './ingest-output.js';

/** Commit about this often (capture bytes), so a long ingest keeps its work if it is stopped. */
const COMMIT_BYTES = 64 << 20;

export interface IngestResult {
  /** Frames this run stored; 0 when the database already held the whole capture. */
  frames: number;
}

export interface IngestOptions extends IngestControl {
  /** Store every frame before the first damaged one, saying what was left out, rather than refuse the capture. */
  keepGood?: boolean;
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

/**
 * Stores the frames before `end`. A new database (`fresh`) is built aside with no journal, since
 * it is discarded whole if anything fails, and renamed into place once complete.
 */
function storeFrames(reader: CaptureReader, dbPath: string, fresh: boolean, end: number, warn: IngestWarning,
  options: IngestOptions): IngestResult {
  const driver = new IngestDriver(reader, dbPath, { aside: fresh, commitEvery: { bytes: COMMIT_BYTES } }, warn, options);
  try {
    const frames = driver.storeTo(end);
    driver.finish();
    return { frames };
  } catch (e) {
    throw driver.fail(e);
  }
}
