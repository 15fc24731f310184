import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsReason, UserError } from '../base/errors.js';

/** The soft limit on the size of a file this process writes (ulimit -f), where the system says. */
function fileSizeLimit(): number | null {
  try {
    const line = /^Max file size\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line && line[1] !== 'unlimited' ? Number(line[1]) : null;
  } catch {
    return null;
  }
}

const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : 0);

/**
 * A write that fails near the file size limit failed because of it: SQLite reports EFBIG only as
 * a write error (or a full disk, for a short write).
 */
function sizeLimitReached(file: string): number | null {
  const limit = fileSizeLimit();
  const largest = Math.max(sizeOf(file), sizeOf(`${file}-wal`));
  return limit !== null && largest + (1 << 20) >= limit ? limit : null;
}

/** Why `file` cannot be written: the file itself, or its directory where -wal and -journal files go. */
function notWritable(shown: string, file: string): string {
  try {
    accessSync(file, constants.W_OK);
  } catch (e) {
    return fsReason(e);
  }
  try {
    accessSync(dirname(file), constants.W_OK);
  } catch (e) {
    return `${fsReason(e)} on its directory, where SQLite keeps ${shown}-wal while writing`;
  }
  return 'the file or its file system is read-only';
}

/**
 * A failure writing a trace as one sentence naming the user's file (`shown`), not the file built
 * beside it (`file`); anything that is not SQLite's passes through unchanged.
 */
export function describeWriteError(shown: string, e: unknown, file = shown): unknown {
  const code = (e as { code?: unknown }).code;
  if (e instanceof UserError || (e as Error).name !== 'SqliteError' || typeof code !== 'string') return e;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new UserError(`${shown} is locked: another stalk-trace (a recording or an ingest) is writing it; try again when that ends`);
  }
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) {
    const limit = sizeLimitReached(file);
    if (limit !== null) return new UserError(`cannot write ${shown}: it reached the file size limit of ${limit} bytes (ulimit -f); raise the limit or write elsewhere`);
    if (code === 'SQLITE_FULL') return new UserError(`cannot write ${shown}: no space left on device`);
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN')) return new UserError(`cannot write ${shown}: ${notWritable(shown, file)}`);
  return new UserError(`cannot write ${shown}: ${(e as Error).message}`);
}
