import type { Output } from '../../base/output.js';
import type { TraceDb } from '../../store/database.js';
import { eventCursor } from '../../store/stored-events.js';
import { EventJson } from '../event-json.js';
import { toJson } from '../json.js';

/** One JSON object per event, addresses named. */
export async function writeJsonl(db: TraceDb, threads: number[], out: Output): Promise<void> {
  const json = new EventJson(db);
  for (const tid of threads) {
    const cursor = eventCursor(db, { thread: tid });
    while (cursor.next() && !out.closed) await out.line(toJson(json.of(cursor)));
  }
  await out.flush();
}
