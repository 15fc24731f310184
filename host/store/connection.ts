import Database from 'better-sqlite3';
import { accessSync, closeSync, constants, existsSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fsReason, UserError } from '../base/errors.js';

// URI file names let a reader open a trace `immutable` (openReadOnly). better-sqlite3 reads this
// switch once, when its addon loads at the first connection, and it holds for the whole process.
process.env.SQLITE_USE_URI ??= '1';

/** SQLite's file header says write-ahead logging: both format version bytes (18, 19) are 2. */
function inWalMode(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(20);
    return readSync(fd, header, 0, 20, 0) === 20 && header[18] === 2 && header[19] === 2;
  } finally {
    closeSync(fd);
  }
}

const walBytes = (path: string) => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);

/**
 * Opens a database for reading, writing nothing beside it. A WAL-mode file whose log is empty or
 * gone holds everything itself: it is opened immutable, since a plain read-only open would create
 * -wal and -shm files (and fails where the directory is not writable).
 */
export function openReadOnly(path: string): Database.Database {
  if (!existsSync(path)) throw new UserError(`trace database ${path} does not exist`);
  if (statSync(path).isDirectory()) throw new UserError(`${path} is a directory, not a trace database`);
  const file = resolve(path);
  try {
    if (inWalMode(file) && walBytes(file) === 0) return new Database(`${pathToFileURL(file).href}?immutable=1`, { readonly: true });
    return new Database(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw describeReadError(path, e);
  }
}

const isWritable = (path: string) => {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

/** A failure reading a database as one sentence naming it; anything not SQLite's or the file system's passes through. */
export function describeReadError(path: string, e: unknown): unknown {
  if (e instanceof UserError) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return e;
  if (code === 'SQLITE_NOTADB') return new UserError(`${path} is not a SQLite database`);
  try {
    accessSync(path, constants.R_OK);
  } catch (denied) {
    return new UserError(`cannot read ${path}: ${fsReason(denied)}`);
  }
  if (walBytes(path) > 0 && !existsSync(`${path}-shm`) && !isWritable(dirname(path))) {
    return new UserError(`cannot read ${path}: its last changes are in ${path}-wal, and reading them needs ${path}-shm ` +
      'created beside it, in a directory this user cannot write; copy both files to a writable directory and read the copy');
  }
  if (code.startsWith('SQLITE_CORRUPT')) return new UserError(`${path} cannot be read: it is damaged (${(e as Error).message})`);
  return new UserError(`${path} cannot be read: ${(e as Error).message}`);
}
