import { existsSync, statSync } from 'node:fs';
import { UserError } from '../base/errors.js';
import { inspectForWriting } from '../store/database.js';

/** What an ingest does with its output: builds it new, continues it, or finds nothing to add. */
export type OutputPlan = 'create' | 'continue' | 'complete';

/**
 * Decides from the output as it is, changing nothing in it. A file that is not a trace, or holds
 * another capture, is refused; an empty one is treated as not there yet, and kept if ingest fails.
 * `end` is where the capture's frames end.
 */
export function planOutput(dbPath: string, capturePath: string, captureId: string, end: number): OutputPlan {
  if (!existsSync(dbPath)) return 'create';
  if (statSync(dbPath).isDirectory()) throw new UserError(`${dbPath} is a directory; choose a file name for the trace`);
  const identity = inspectForWriting(dbPath);
  if (identity.kind !== 'trace') return 'create';
  const { captureId: held, ingestedBytes } = identity;
  if (held === null) return 'continue';
  if (held !== captureId) {
    throw new UserError(`${dbPath} holds another capture (${held}), not ${capturePath} (${captureId}); choose another output file`);
  }
  if (ingestedBytes > end) {
    throw new UserError(`${dbPath} holds more of this capture than ${capturePath} does (up to byte offset ${ingestedBytes}, the file ` +
      `to ${end}): ${capturePath} is a shorter copy, with nothing to add`);
  }
  return ingestedBytes === end ? 'complete' : 'continue';
}
