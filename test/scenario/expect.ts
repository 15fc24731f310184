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
  /** One compile record per distinct block a thread runs, when blocks and their code are recorded. */
  compiles: number;
  apicalls: number;
  apirets: number;
  stalls: number;
  lost: number;
  /** Every record: what a thread's events count comes to. */
  events: number;
}

export function expectedFor(s: Scenario, tid?: number): Expected {
  const e: Expected = {
    callsTo: new Map(), calls: 0, rets: 0, syscalls: 0, sysrets: 0, blocks: 0, compiles: 0, apicalls: 0, apirets: 0, stalls: 0, lost: 0, events: 0,
  };
  const recordsBlocks = (s.events ?? []).includes('block');
  // A block is a function's b-th block, compiled once per thread (the generator's rule).
  const compiled = new Map<number, Set<string>>();
  for (const step of threadSteps(s)) {
    if (tid !== undefined && step.thread !== tid) continue;
    let seen = compiled.get(step.thread);
    if (!seen) compiled.set(step.thread, (seen = new Set()));
    e.lost += step.lost ?? 0;
    if (step.stallNs) e.stalls++;
    walk(step.calls, 1, (c, runs) => {
      e.callsTo.set(c.fn, (e.callsTo.get(c.fn) ?? 0) + runs);
      e.calls += runs;
      e.rets += c.noReturn ? 0 : runs;
      if (recordsBlocks) e.blocks += runs * (c.blocks ?? 1);
      if (recordsBlocks && s.captureCode !== false) for (let b = 0; b < (c.blocks ?? 1); b++) seen!.add(`${c.fn}#${b}`);
      if (c.api) {
        e.apicalls += runs;
        if (!c.noReturn && !c.api.untracked && c.api.ret !== undefined) e.apirets += runs;
      }
      for (const sc of c.syscalls ?? []) {
        e.syscalls += runs * (sc.count ?? 1);
        if (sc.ret !== undefined) e.sysrets += runs * (sc.count ?? 1);
      }
    });
  }
  for (const seen of compiled.values()) e.compiles += seen.size;
  e.events = e.calls + e.rets + e.syscalls + e.sysrets + e.blocks + e.compiles + e.apicalls + e.apirets + e.stalls;
  return e;
}

export const threadIds = (s: Scenario) => [...new Set(threadSteps(s).map((st) => st.thread))];
