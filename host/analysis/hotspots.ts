import type { TraceDb } from '../store/database.js';
import { CallStacks } from '../model/call-stacks.js';
import { COST_KIND, type CostUnit } from '../model/cost-unit.js';
import { costUnit } from './trace-facts.js';

export interface FunctionRow {
  functionId: number;
  name: string;
  module: string | null;
  calls: number;
  self: number;
  total: number;
  callers: { name: string; calls: number }[];
  callees: { name: string; calls: number }[];
}

export interface Hotspots {
  unit: CostUnit;
  /** All cost recorded in the threads looked at: the base of the percentages. */
  traceCost: number;
  functions: FunctionRow[];
}

export interface HotspotOptions {
  thread?: number;
  /** Module name, or a glob with * and ?. */
  module?: string;
}

const globRegExp = (glob: string) =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);

type Key = string;
const key = (tid: number, id: number): Key => `${tid}:${id}`;

/**
 * What frames still open at the end of a cut-short trace add: each is closed at its thread's
 * last cost, as the end of a trace would have closed it.
 */
function openFrameCosts(db: TraceDb, unit: CostUnit, thread?: number): Map<Key, { self: number; total: number }> {
  const out = new Map<Key, { self: number; total: number }>();
  const frames = db.prepare(`SELECT * FROM open_frames ${thread === undefined ? '' : 'WHERE thread_id = ?'} ORDER BY thread_id, position`)
    .all(...(thread === undefined ? [] : [thread])) as Record<string, number>[];
  const byThread = new Map<number, Record<string, number>[]>();
  for (const f of frames) byThread.set(f.thread_id, [...(byThread.get(f.thread_id) ?? []), f]);
  const cost = db.prepare('SELECT coalesce(sum(count), 0) FROM kind_counts WHERE thread_id = ? AND kind = ?').pluck();
  for (const [tid, list] of byThread) {
    const stacks = new CallStacks();
    for (const f of list) stacks.restore({ functionId: f.function_id, callerId: f.caller_id, returnAddress: f.return_address, sp: f.sp, entryCost: f.entry_cost, childCost: f.child_cost });
    stacks.closeAll(cost.get(tid, COST_KIND[unit]) as number);
    for (const [id, s] of stacks.functions) out.set(key(tid, id), { self: s.self, total: s.total });
  }
  return out;
}

export function hotspots(db: TraceDb, options: HotspotOptions = {}): Hotspots {
  const unit = costUnit(db);
  const threadFilter = options.thread === undefined ? '' : 'WHERE f.thread_id = ?';
  const args = options.thread === undefined ? [] : [options.thread];
  const open = openFrameCosts(db, unit, options.thread);
  const rows = db.prepare(`SELECT f.thread_id, f.function_id, l.name, m.name AS module, f.calls, f.self_cost, f.total_cost
    FROM function_stats f JOIN locations l ON l.id = f.function_id LEFT JOIN modules m ON m.id = l.module_id ${threadFilter}`)
    .all(...args) as { thread_id: number; function_id: number; name: string; module: string | null; calls: number; self_cost: number; total_cost: number }[];
  const functions = new Map<number, FunctionRow>();
  for (const r of rows) {
    let f = functions.get(r.function_id);
    if (!f) functions.set(r.function_id, (f = { functionId: r.function_id, name: r.name, module: r.module, calls: 0, self: 0, total: 0, callers: [], callees: [] }));
    const extra = open.get(key(r.thread_id, r.function_id));
    f.calls += r.calls;
    f.self += r.self_cost + (extra?.self ?? 0);
    f.total += r.total_cost + (extra?.total ?? 0);
  }
  const edges = db.prepare(`SELECT e.caller_id, e.callee_id, coalesce(a.name, '(thread root)') AS caller, b.name AS callee, sum(e.calls) AS calls
    FROM call_edges e LEFT JOIN locations a ON a.id = e.caller_id JOIN locations b ON b.id = e.callee_id
    ${threadFilter.replace('f.', 'e.')} GROUP BY e.caller_id, e.callee_id ORDER BY calls DESC`).all(...args) as
    { caller_id: number; callee_id: number; caller: string; callee: string; calls: number }[];
  for (const e of edges) {
    functions.get(e.callee_id)?.callers.push({ name: e.caller, calls: e.calls });
    functions.get(e.caller_id)?.callees.push({ name: e.callee, calls: e.calls });
  }
  const traceCost = db.prepare(`SELECT coalesce(sum(count), 0) FROM kind_counts WHERE kind = ? ${options.thread === undefined ? '' : 'AND thread_id = ?'}`)
    .pluck().get(COST_KIND[unit], ...args) as number;
  const moduleMatch = options.module === undefined ? undefined : globRegExp(options.module);
  return {
    unit,
    traceCost,
    functions: [...functions.values()].filter((f) => !moduleMatch || moduleMatch.test(f.module ?? '')),
  };
}

export type SortKey = 'total' | 'self' | 'calls';

export function sortFunctions(rows: FunctionRow[], by: SortKey): FunctionRow[] {
  return [...rows].sort((a, b) => b[by] - a[by] || b.total - a.total || a.name.localeCompare(b.name));
}

export interface DiffRow {
  name: string;
  base: Pick<FunctionRow, 'calls' | 'self' | 'total'>;
  other: Pick<FunctionRow, 'calls' | 'self' | 'total'>;
}

const none = { calls: 0, self: 0, total: 0 };

/** Largest change first. */
export function sortDiff(rows: DiffRow[], by: SortKey): DiffRow[] {
  const delta = (r: DiffRow) => Math.abs(r.other[by] - r.base[by]);
  return [...rows].sort((a, b) => delta(b) - delta(a) || a.name.localeCompare(b.name));
}

/** Functions of two runs side by side, matched by name; a function only one run has is 0 in the other. */
export function diffHotspots(base: Hotspots, other: Hotspots): DiffRow[] {
  const byName = (h: Hotspots) => new Map(h.functions.map((f) => [f.name, f]));
  const a = byName(base);
  const b = byName(other);
  return [...new Set([...a.keys(), ...b.keys()])].map((name) => ({ name, base: a.get(name) ?? none, other: b.get(name) ?? none }));
}
