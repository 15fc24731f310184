import { COST_WORDS } from './trace-facts.js';
import { sortFunctions, type DiffRow, type Hotspots, type SortKey } from './hotspots.js';
import { table } from './text-table.js';

const n = (v: number) => v.toLocaleString('en-US');
const pct = (v: number, of: number) => (of > 0 ? `${((100 * v) / of).toFixed(1)}%` : '-');
const signed = (v: number) => (v > 0 ? `+${n(v)}` : n(v));

function list(items: { name: string; calls: number }[], most: number): string {
  if (items.length === 0) return '(none)';
  const shown = items.slice(0, most).map((i) => `${i.name} (${n(i.calls)})`).join(', ');
  return items.length > most ? `${shown}, … ${items.length - most} more` : shown;
}

export function formatHotspots(h: Hotspots, sort: SortKey, top: number): string {
  const rows = sortFunctions(h.functions, sort).slice(0, top);
  const lines = [
    `cost: ${COST_WORDS[h.unit]}; self = in the function itself, total = with everything it called (recursion counted once)`,
    `${n(h.traceCost)} in all, ${n(h.functions.length)} functions; sorted by ${sort}`,
    '',
    ...table(['total', 'total%', 'self', 'self%', 'calls', 'function'],
      rows.map((f) => [n(f.total), pct(f.total, h.traceCost), n(f.self), pct(f.self, h.traceCost), n(f.calls), f.name]),
      [true, true, true, true, true, false]),
    '',
    'callers and callees:',
  ];
  for (const f of rows) lines.push(f.name, `  <- ${list(f.callers, 4)}`, `  -> ${list(f.callees, 4)}`);
  return lines.join('\n');
}

export function formatDiff(rows: DiffRow[], unit: Hotspots['unit'], sort: SortKey, top: number): string {
  const delta = (r: DiffRow) => Math.abs(r.other[sort] - r.base[sort]);
  const shown = [...rows].sort((a, b) => delta(b) - delta(a) || a.name.localeCompare(b.name)).slice(0, top);
  return [
    `cost: ${COST_WORDS[unit]}; base = the first trace, other = --diff; sorted by the change in ${sort}`,
    '',
    ...table(['calls', 'other', 'change', 'self', 'other', 'change', 'total', 'other', 'change', 'function'],
      shown.map((r) => [n(r.base.calls), n(r.other.calls), signed(r.other.calls - r.base.calls),
        n(r.base.self), n(r.other.self), signed(r.other.self - r.base.self),
        n(r.base.total), n(r.other.total), signed(r.other.total - r.base.total), r.name]),
      [true, true, true, true, true, true, true, true, true, false]),
  ].join('\n');
}
