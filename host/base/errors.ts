/** A failure the user can act on: printed as one sentence, no stack trace. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}

const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory', EISDIR: 'it is a directory', ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied', EPERM: 'operation not permitted', ENOSPC: 'no space left on device', EROFS: 'read-only file system',
  EEXIST: 'it already exists', EMFILE: 'too many open files', EFBIG: 'the file size limit was reached',
  EBUSY: 'it is in use', ETXTBSY: 'it is in use',
};

/** A file system error as words: "no such file or directory", not ENOENT. */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code !== undefined ? FS_REASONS[code] : undefined) ?? (e as Error).message;
}

/**
 * The failures a command can meet that are the user's to act on, as one sentence: its own,
 * file system errors, and a database SQLite cannot read. Anything else is a bug (null).
 */
export function asUserError(e: unknown): UserError | null {
  if (e instanceof UserError) return e;
  const err = e as NodeJS.ErrnoException & { name?: string };
  if (err?.name === 'SqliteError') return new UserError(`the trace database cannot be read: ${err.message} (${err.code})`);
  if (typeof err?.code === 'string' && typeof err.syscall === 'string') {
    return new UserError(`${err.path ? `${err.path}: ` : ''}${fsReason(err)}`);
  }
  return null;
}
