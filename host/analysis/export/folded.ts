import type { Output } from '../../base/output.js';
import type { TraceDb } from '../../store/database.js';
import { buildCallTree, type CallTreeNode } from '../call-tree.js';
import { costUnit, locationNames } from '../trace-facts.js';
import { printable } from '../../base/text-table.js';

/**
 * Folded stacks for flame graphs: `root;...;leaf value` per call path, threads merged. The
 * value is the path's own cost in blocks or instructions where those were recorded, and its
 * number of activations where only calls were.
 */
export async function writeFolded(db: TraceDb, threads: number[], out: Output): Promise<void> {
  const names = locationNames(db);
  const byActivations = costUnit(db) === 'calls';
  const stacks = new Map<string, number>();
  const walk = (node: CallTreeNode, prefix: string) => {
    for (const child of node.children.values()) {
      const name = printable(names[child.functionId]);
      const stack = prefix === '' ? name : `${prefix};${name}`;
      const value = byActivations ? child.calls : child.selfCost;
      if (value > 0) stacks.set(stack, (stacks.get(stack) ?? 0) + value);
      walk(child, stack);
    }
  };
  for (const tid of threads) walk(buildCallTree(db, tid), '');
  for (const stack of [...stacks.keys()].sort()) await out.line(`${stack} ${stacks.get(stack)}`);
  await out.flush();
}
