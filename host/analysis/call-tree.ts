import type { TraceDb } from '../store/database.js';
import { eventCursor } from '../store/stored-events.js';
import { COST_KIND } from '../model/cost-unit.js';
import { costUnit } from './trace-facts.js';

/**
 * A calling-context tree node: one call path from the thread's root. Repeated calls of the same
 * function from the same path fold into one node with their count.
 */
export interface CallTreeNode {
  /** Location id of the function; 0 for the thread's root. */
  functionId: number;
  calls: number;
  /** Cost counted while this path was innermost, in the trace's cost unit. */
  selfCost: number;
  children: Map<number, CallTreeNode>;
}

const node = (functionId: number): CallTreeNode => ({ functionId, calls: 0, selfCost: 0, children: new Map() });

/** Builds one thread's calling-context tree from its events, matching returns by depth. */
export function buildCallTree(db: TraceDb, tid: number): CallTreeNode {
  const costKind = COST_KIND[costUnit(db)];
  const root = node(0);
  const stack: { node: CallTreeNode; depth: number }[] = [{ node: root, depth: -Infinity }];
  const cursor = eventCursor(db, { thread: tid });
  while (cursor.next()) {
    const kind = cursor.kind;
    if (kind === costKind) stack[stack.length - 1].node.selfCost++;
    if (kind === 'call') {
      const parent = stack[stack.length - 1].node;
      let child = parent.children.get(cursor.value);
      if (!child) parent.children.set(cursor.value, (child = node(cursor.value)));
      child.calls++;
      stack.push({ node: child, depth: cursor.depth });
    } else if (kind === 'ret') {
      while (stack.length > 1 && stack[stack.length - 1].depth > cursor.depth) stack.pop();
      if (stack.length > 1 && stack[stack.length - 1].depth === cursor.depth) stack.pop();
    }
  }
  return root;
}

/** Cost of a node and everything below it. */
export function totalCost(n: CallTreeNode): number {
  let total = n.selfCost;
  for (const c of n.children.values()) total += totalCost(c);
  return total;
}
