import { accessSync, constants, createWriteStream, lstatSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, join, resolve } from 'node:path';
import { fsReason, UserError } from '../base/errors.js';

/**
 * Where a command writes a file the user named. Never destroys what it did not create: a
 * regular file is written aside and renamed over the name only once complete, so a failure
 * leaves whatever was there untouched; a device, FIFO or /dev/stdout is written in place and
 * never unlinked.
 */

/** Checks a path a command will create, before anything is contacted or written. */
export function checkOutputPath(path: string, flag: string): string {
  if (path === '') throw new UserError(`${flag} needs a file name`);
  const existing = statOrNull(path);
  if (existing?.isDirectory()) throw new UserError(`cannot write ${path}: it is a directory`);
  const dir = dirname(resolve(path));
  const parent = statOrNull(dir);
  if (parent === null) throw new UserError(`cannot write ${path}: the directory ${dirname(path)} does not exist`);
  if (!parent.isDirectory()) throw new UserError(`cannot write ${path}: ${dirname(path)} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new UserError(`cannot write ${path}: ${fsReason(e)} in ${dirname(path)}`);
  }
  return path;
}

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** The same file, by device and inode, whatever names lead to it. */
function sameFile(a: string, b: string): boolean {
  const sa = statOrNull(a);
  const sb = statOrNull(b);
  return sa !== null && sb !== null && sa.dev === sb.dev && sa.ino === sb.ino;
}

/** Names of an already open descriptor (`-o /dev/stdout`): written through, never replaced. */
const STANDARD_STREAM = /^\/(dev\/(stdout|stderr|fd\/\d+)|proc\/[^/]+\/fd\/\d+)$/;

export interface OutputFile {
  stream: WriteStream;
  /** Ends the writing and waits until every write error is known; the output is not final yet. */
  close(): Promise<void>;
  /** Makes the output final: closes it, then renames it over the name the user gave (regular files). */
  commit(): Promise<void>;
  /** Leaves no trace of this run: removes what was written aside; a device is left as it is. */
  discard(): void;
}

/**
 * Opens one output per name, all or none: each written aside as openOutputFile does. Commit them
 * only after every one is closed, so a write error in any leaves every name as it was.
 */
export function openOutputFiles(paths: string[], inputs: string[]): OutputFile[] {
  const files: OutputFile[] = [];
  try {
    for (const path of paths) files.push(openOutputFile(path, inputs));
  } catch (e) {
    for (const f of files) f.discard();
    throw e;
  }
  return files;
}

/**
 * Opens `path` for an export of `inputs`. Refused before anything is touched: the name of one
 * of the inputs, a directory, a missing directory.
 */
export function openOutputFile(path: string, inputs: string[]): OutputFile {
  checkOutputPath(path, '-o');
  for (const input of inputs) {
    if (sameFile(path, input)) throw new UserError(`cannot write ${path}: it is the trace being read; name another file`);
  }
  const existing = statOrNull(path);
  if ((existing !== null && !existing.isFile()) || STANDARD_STREAM.test(path)) return inPlace(path);
  // A symbolic link stays a link: the file it points to is the one replaced.
  const target = lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ? realpathSync(path) : path;
  const aside = join(dirname(target), `.${basename(target)}.${process.pid}.partial`);
  let fd: number;
  try {
    fd = openSync(aside, 'wx', existing?.mode ?? 0o666);
  } catch (e) {
    throw new UserError(`cannot write ${path}: ${fsReason(e)}`);
  }
  // flush: the data is on disk before the rename makes it the file the user named.
  const stream = createWriteStream(aside, { fd, flush: true });
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= finished(stream, path));
  return {
    stream,
    close,
    async commit() {
      await close();
      try {
        renameSync(aside, target);
      } catch (e) {
        throw new UserError(`cannot write ${path}: ${fsReason(e)}`);
      }
    },
    discard() {
      stream.destroy();
      rmSync(aside, { force: true });
    },
  };
}

/** Devices, FIFOs and sockets: written where they are, never removed. */
function inPlace(path: string): OutputFile {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    throw new UserError(`cannot write ${path}: ${fsReason(e)}`);
  }
  const stream = createWriteStream(path, { fd });
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= finished(stream, path));
  return {
    stream,
    close,
    commit: close,
    discard: () => stream.destroy(),
  };
}

/** Ends the stream and waits until its descriptor is closed, so every write error has been seen. */
async function finished(stream: WriteStream, path: string): Promise<void> {
  stream.end();
  try {
    await once(stream, 'close');
    if (stream.errored) throw stream.errored;
  } catch (e) {
    throw new UserError(`cannot write ${path}: ${fsReason(e)}`);
  }
}

/** A directory a command fills with files: made aside, renamed to its name once complete. */
export interface OutputDir {
  /** Where to write the files. */
  path: string;
  /** Gives the directory its name. */
  commit(): void;
  /** Removes the directory made aside, and all that was written into it. */
  discard(): void;
}

/**
 * Makes a new directory for `path`, which must not exist: whatever is there is the user's, and
 * a directory is never written into, nor replaced.
 */
export function openOutputDir(path: string): OutputDir {
  const taken = () => lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  if (taken()) throw new UserError(`cannot write ${path}: it already exists; name a new directory`);
  checkOutputPath(path, '-o');
  const aside = join(dirname(resolve(path)), `.${basename(resolve(path))}.${process.pid}.partial`);
  try {
    mkdirSync(aside);
  } catch (e) {
    throw new UserError(`cannot write ${path}: ${fsReason(e)}`);
  }
  return {
    path: aside,
    commit() {
      // rename(2) would replace an empty directory made at the name meanwhile.
      if (taken()) throw new UserError(`cannot write ${path}: it was made while the export ran; name a new directory`);
      try {
        renameSync(aside, path);
      } catch (e) {
        throw new UserError(`cannot write ${path}: ${fsReason(e)}`);
      }
    },
    discard: () => rmSync(aside, { recursive: true, force: true }),
  };
}
