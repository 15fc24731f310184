import type { CostUnit } from '../model/cost-unit.js';
import type { TraceDb } from '../store/database.js';

export const COST_WORDS: Record<CostUnit, string> = {
  instructions: 'instructions executed', blocks: 'basic blocks executed', calls: 'calls made',
};

export function costUnit(db: TraceDb): CostUnit {
  return db.prepare('SELECT cost_unit FROM trace').pluck().get() as CostUnit;
}

/** Location id -> module!symbol+0xoff, for every location of the trace. */
export function locationNames(db: TraceDb): string[] {
  const names: string[] = [];
  for (const r of db.prepare('SELECT id, name FROM locations').raw().iterate() as Iterable<[number, string]>) names[r[0]] = r[1];
  return names;
}

export function threadIds(db: TraceDb, only?: number): number[] {
  const ids = db.prepare('SELECT id FROM threads ORDER BY id').pluck().all() as number[];
  return only === undefined ? ids : ids.filter((id) => id === only);
}

export function threadName(db: TraceDb, tid: number): string | null {
  return db.prepare('SELECT name FROM threads WHERE id = ?').pluck().get(tid) as string | null;
}
