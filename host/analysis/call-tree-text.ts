import { totalCost, type CallTreeNode } from './call-tree.js';
import type { CostUnit } from '../model/cost-unit.js';
import { COST_WORDS } from './trace-facts.js';
import { printable, quoted } from '../base/text-table.js';

export interface ThreadTree {
  tid: number;
  name: string | null;
  root: CallTreeNode;
}

const n = (v: number) => v.toLocaleString('en-US');

/** Children by total cost, then name, so the output is stable. */
function ordered(node: CallTreeNode, names: string[]): CallTreeNode[] {
  const totals = new Map([...node.children.values()].map((c) => [c, totalCost(c)]));
  return [...node.children.values()].sort((a, b) => totals.get(b)! - totals.get(a)! || names[a.functionId].localeCompare(names[b.functionId]));
}

export function formatCallTreeText(trees: ThreadTree[], names: string[], unit: CostUnit, maxDepth: number): string {
  const lines = [`calls × function  [total, self: ${COST_WORDS[unit]}]`];
  for (const t of trees) {
    lines.push('', `thread ${t.tid}${t.name ? ` ${quoted(t.name)}` : ''}: ${n(totalCost(t.root))} in all`);
    const walk = (node: CallTreeNode, depth: number) => {
      for (const c of ordered(node, names)) {
        lines.push(`${'  '.repeat(depth + 1)}${n(c.calls)} × ${printable(names[c.functionId])}  [${n(totalCost(c))}, ${n(c.selfCost)}]`);
        if (depth + 1 < maxDepth) walk(c, depth + 1);
        else if (c.children.size > 0) lines.push(`${'  '.repeat(depth + 2)}… ${c.children.size} more below --depth`);
      }
    };
    walk(t.root, 0);
  }
  return lines.join('\n');
}

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

export function formatCallTreeDot(trees: ThreadTree[], names: string[], unit: CostUnit, maxDepth: number): string {
  const lines = ['digraph calltree {', '  rankdir=LR;', '  node [shape=box, fontname="monospace"];'];
  let next = 0;
  for (const t of trees) {
    const rootId = `t${t.tid}`;
    lines.push(`  ${rootId} [label=${quote(`thread ${t.tid}${t.name ? ` (${t.name})` : ''}`)}, shape=ellipse];`);
    const walk = (node: CallTreeNode, id: string, depth: number) => {
      if (depth >= maxDepth) return;
      for (const c of ordered(node, names)) {
        const childId = `n${next++}`;
        lines.push(`  ${childId} [label=${quote(`${names[c.functionId]}\n${n(totalCost(c))} ${unit}, self ${n(c.selfCost)}`)}];`);
        lines.push(`  ${id} -> ${childId} [label=${quote(`${n(c.calls)}×`)}];`);
        walk(c, childId, depth + 1);
      }
    };
    walk(t.root, rootId, 0);
  }
  lines.push('}');
  return lines.join('\n');
}

interface CallTreeJsonNode {
  function: string;
  calls: number;
  total: number;
  self: number;
  /** Absent below --depth; `more_below` then says how many paths were left out. */
  children?: CallTreeJsonNode[];
  more_below?: number;
}

/** The trees as data: one entry per thread, each path with its calls, total and self cost. */
export function callTreeJson(trees: ThreadTree[], names: string[], unit: CostUnit, maxDepth: number) {
  const walk = (node: CallTreeNode, depth: number): CallTreeJsonNode[] => ordered(node, names).map((c) => {
    const entry: CallTreeJsonNode = { function: names[c.functionId], calls: c.calls, total: totalCost(c), self: c.selfCost };
    if (depth + 1 < maxDepth) entry.children = walk(c, depth + 1);
    else if (c.children.size > 0) entry.more_below = c.children.size;
    return entry;
  });
  return { unit, threads: trees.map((t) => ({ thread_id: t.tid, name: t.name, total: totalCost(t.root), calls: walk(t.root, 0) })) };
}
