// Expected numbers, worked out from a scenario description alone: what a correct ingest must report.
import type { CallSpec, Scenario, Step } from './scenario.js';

type ThreadStep = Extract<Step, { thread: number }>;

const threadSteps = (s: Scenario) => s.steps.filter((st): st is ThreadStep => 'thread' in st);

/** Visits every call spec with how many times it runs in total. */
function walk(calls: CallSpec[] | undefined, times: number, visit: (c: CallSpec, runs: number) => void): void {
  for (const c of calls ?? []) {
    const runs = times * (c.count ?? 1);
    visit(c, runs);
    walk(c.children, runs, visit);
  }
}

export interface Expected {
  callsTo: Map<string, number>;
  calls: number;
  rets: number;
  syscalls: number;
  sysrets: number;
  blocks: number;
  stalls: number;
  lost: number;
}

export function expectedFor(s: Scenario, tid?: number): Expected {
  const e: Expected = { callsTo: new Map(), calls: 0, rets: 0, syscalls: 0, sysrets: 0, blocks: 0, stalls: 0, lost: 0 };
  const recordsBlocks = (s.events ?? []).includes('block');
  for (const step of threadSteps(s)) {
    if (tid !== undefined && step.thread !== tid) continue;
    e.lost += step.lost ?? 0;
    if (step.stallNs) e.stalls++;
    walk(step.calls, 1, (c, runs) => {
      e.callsTo.set(c.fn, (e.callsTo.get(c.fn) ?? 0) + runs);
      e.calls += runs;
      e.rets += c.noReturn ? 0 : runs;
      if (recordsBlocks) e.blocks += runs * (c.blocks ?? 1);
      for (const sc of c.syscalls ?? []) {
        e.syscalls += runs * (sc.count ?? 1);
        if (sc.ret !== undefined) e.sysrets += runs * (sc.count ?? 1);
      }
    });
  }
  return e;
}

export const threadIds = (s: Scenario) => [...new Set(threadSteps(s).map((st) => st.thread))];
