import { existsSync } from 'node:fs';
import { UserError } from '../base/errors.js';
import { packagePath } from '../base/paths.js';
import type { TraceDb } from './database.js';

/**
 * Loads host/store/NAME.c as host/store/build-event-tables.mjs compiled it into dist/ (found from
 * the package, as the CLI also runs bundled). SQLite finds its entry point from the file name:
 * sqlite3_NAME_init, NAME's letters only.
 */
export function loadStoreExtension(db: TraceDb, name: string): void {
  const file = packagePath('dist', 'host', 'store', `${name}.so`);
  if (!existsSync(file)) throw new UserError(`${file} is missing: build stalk-trace with npm run build (it needs a C compiler)`);
  db.loadExtension(file);
}
