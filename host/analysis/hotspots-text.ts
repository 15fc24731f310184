import { COST_WORDS } from './trace-facts.js';
import type { DiffRow, FunctionRow, Hotspots, SortKey } from './hotspots.js';
import { printable, table } from '../base/text-table.js';

const n = (v: number) => v.toLocaleString('en-US');
const pct = (v: number, of: number) => (of > 0 ? `${((100 * v) / of).toFixed(1)}%` : '-');
const signed = (v: number) => (v > 0 ? `+${n(v)}` : n(v));

function list(items: { name: string; calls: number }[], most: number): string {
  if (items.length === 0) return '(none)';
  const shown = items.slice(0, most).map((i) => `${printable(i.name)} (${n(i.calls)})`).join(', ');
  return items.length > most ? `${shown}, … ${items.length - most} more` : shown;
}

/** `rows`: the functions to show, in order. */
export function formatHotspots(h: Hotspots, rows: FunctionRow[], sort: SortKey): string {
  const lines = [
    `cost: ${COST_WORDS[h.unit]}; self = in the function itself, total = with everything it called (recursion counted once)`,
    `${n(h.traceCost)} in all, ${n(h.functions.length)} functions; sorted by ${sort}`,
    '',
    ...table(['total', 'total%', 'self', 'self%', 'calls', 'function'],
      rows.map((f) => [n(f.total), pct(f.total, h.traceCost), n(f.self), pct(f.self, h.traceCost), n(f.calls), printable(f.name)]),
      [true, true, true, true, true, false]),
    '',
    'callers and callees:',
  ];
  for (const f of rows) lines.push(printable(f.name), `  <- ${list(f.callers, 4)}`, `  -> ${list(f.callees, 4)}`);
  return lines.join('\n');
}

/** `shown`: the rows to show, in order (see sortDiff). */
export function formatDiff(shown: DiffRow[], unit: Hotspots['unit'], sort: SortKey): string {
  return [
    `cost: ${COST_WORDS[unit]}; base = the first trace, other = --diff; sorted by the change in ${sort}`,
    '',
    ...table(['calls', 'other', 'change', 'self', 'other', 'change', 'total', 'other', 'change', 'function'],
      shown.map((r) => [n(r.base.calls), n(r.other.calls), signed(r.other.calls - r.base.calls),
        n(r.base.self), n(r.other.self), signed(r.other.self - r.base.self),
        n(r.base.total), n(r.other.total), signed(r.other.total - r.base.total), printable(r.name)]),
      [true, true, true, true, true, true, true, true, true, false]),
  ].join('\n');
}
