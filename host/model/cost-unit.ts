import type { EventName, KindName } from '../schema/layout.generated.js';

/** What a trace's function costs count: the finest of the kinds it recorded. */
export type CostUnit = 'instructions' | 'blocks' | 'calls';

/** The record kind each cost unit counts. */
export const COST_KIND: Readonly<Record<CostUnit, KindName>> = { instructions: 'exec', blocks: 'block', calls: 'call' };

/** The cost unit of a recording of these --events kinds. */
export function costUnitOf(events: readonly EventName[]): CostUnit {
  return events.includes('exec') ? 'instructions' : events.includes('block') ? 'blocks' : 'calls';
}
