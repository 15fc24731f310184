import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../base/errors.js';
import type { AnalysisDb } from '../../analysis/analysis-db.js';
import type { SortKey } from '../../analysis/hotspots.js';
import { toJson } from '../../analysis/json.js';
import type { TraceDb } from '../../store/database.js';
import { Output } from '../../base/output.js';

interface Common {
  trace: string;
  thread?: number;
  json?: boolean;
}

/** Opens the trace, checks --thread, runs, and always closes: output is written before it closes. */
async function withTrace<T>(path: string, thread: number | undefined, run: (s: AnalysisDb) => Promise<T> | T): Promise<T> {
  const [{ openAnalysis }, { threadIds }] = await Promise.all([import('../../analysis/analysis-db.js'), import('../../analysis/trace-facts.js')]);
  const analysis = openAnalysis(path);
  try {
    if (thread !== undefined && threadIds(analysis.db, thread).length === 0) throw new UserError(`the trace has no thread ${thread}`);
    return await run(analysis);
  } finally {
    analysis.close();
  }
}

/** A count the user gives: a whole number of at least 1. */
function atLeastOne(flag: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new UserError(`${flag} takes a whole number of 1 or more, not ${value}`);
  return value;
}

const common = <T>(y: Argv<T>) => y
  .positional('trace', { type: 'string', demandOption: true, describe: 'trace database' })
  .option('thread', { alias: 't', type: 'number', describe: 'only this thread' })
  .option('json', { type: 'boolean', describe: 'machine-readable output' });

async function print(text: string): Promise<void> {
  const out = new Output();
  await out.line(text);
  await out.end();
}

interface HotspotArgs extends Common {
  sort?: SortKey;
  top: number;
  module?: string;
  diff?: string;
}

const hotspotsCommand: CommandModule<object, HotspotArgs> = {
  command: 'hotspots <trace>',
  describe: 'Functions by cost: calls, self and total, callers and callees',
  builder: (y) => common(y)
    .option('sort', { choices: ['total', 'self', 'calls'] as const, describe: 'ranking (default: calls on a call-only trace, else total)' })
    .option('top', { type: 'number', default: 20, describe: 'show this many functions' })
    .option('module', { alias: 'm', type: 'string', describe: 'only functions of this module (glob)' })
    .option('diff', { type: 'string', describe: 'compare with another trace of the same program' }) as Argv<HotspotArgs>,
  handler: async (args) => {
    const top = atLeastOne('--top', args.top);
    const [{ diffHotspots, hotspots, sortDiff, sortFunctions }, { formatDiff, formatHotspots }] = await Promise.all([
      import('../../analysis/hotspots.js'), import('../../analysis/hotspots-text.js'),
    ]);
    const options = { thread: args.thread, module: args.module };
    const base = await withTrace(args.trace, args.thread, (s) => hotspots(s.db, options));
    // A trace of calls only counts calls as its cost: there, ranking by calls is what shows where the time goes.
    const sort = args.sort ?? (base.unit === 'calls' ? 'calls' : 'total');
    if (args.diff !== undefined) {
      const other = await withTrace(args.diff, undefined, (s) => hotspots(s.db, options));
      if (other.unit !== base.unit) throw new UserError(`the traces count different costs (${base.unit} and ${other.unit}); record both with the same --events`);
      const rows = sortDiff(diffHotspots(base, other), sort).slice(0, top);
      return print(args.json ? toJson({ unit: base.unit, sort, functions: rows }, 2) : formatDiff(rows, base.unit, sort));
    }
    const rows = sortFunctions(base.functions, sort).slice(0, top);
    return print(args.json ? toJson({ ...base, sort, functions: rows }, 2) : formatHotspots(base, rows, sort));
  },
};

interface CallTreeArgs extends Common {
  depth: number;
  format: 'text' | 'dot';
}

const calltreeCommand: CommandModule<object, CallTreeArgs> = {
  command: 'calltree <trace>',
  describe: 'The call tree of each thread, identical call paths folded, with counts',
  builder: (y) => common(y)
    .option('depth', { alias: 'd', type: 'number', default: Infinity, defaultDescription: 'all', describe: 'levels to show (1 or more)' })
    .option('format', { choices: ['text', 'dot'] as const, default: 'text' as const, describe: 'text, or Graphviz dot' }) as Argv<CallTreeArgs>,
  handler: async (args) => {
    const depth = args.depth === Infinity ? Infinity : atLeastOne('--depth', args.depth);
    if (args.json && args.format === 'dot') throw new UserError('--json and --format dot are two different outputs: choose one');
    const [{ buildCallTree }, { callTreeJson, formatCallTreeDot, formatCallTreeText }, { costUnit, locationNames, threadIds, threadName }] = await Promise.all([
      import('../../analysis/call-tree.js'), import('../../analysis/call-tree-text.js'), import('../../analysis/trace-facts.js'),
    ]);
    const text = await withTrace(args.trace, args.thread, (s) => {
      const trees = threadIds(s.db, args.thread).map((tid) => ({ tid, name: threadName(s.db, tid), root: buildCallTree(s.db, tid) }));
      const names = locationNames(s.db);
      if (args.json) return toJson(callTreeJson(trees, names, costUnit(s.db), depth), 2);
      const format = args.format === 'dot' ? formatCallTreeDot : formatCallTreeText;
      return format(trees, names, costUnit(s.db), depth);
    });
    return print(text);
  },
};

type StreamedReport = (db: TraceDb, thread: number | undefined, json: boolean, out: Output) => Promise<void>;

/** A report written as it is read, in constant memory. */
const streamed = (command: string, describe: string, write: () => Promise<StreamedReport>): CommandModule<object, Common> => ({
  command: `${command} <trace>`,
  describe,
  builder: (y) => common(y) as Argv<Common>,
  handler: async (args) => {
    const report = await write();
    return withTrace(args.trace, args.thread, (s) => report(s.db, args.thread, args.json ?? false, new Output()));
  },
});

const apisCommand = streamed('apis', 'Library calls with their arguments and results, in drltrace\'s log layout (record --apis)',
  async () => (await import('../../analysis/call-reports.js')).writeApiLog);
const syscallsCommand = streamed('syscalls', 'Syscalls with decoded arguments and results, one line each as strace shows them',
  async () => (await import('../../analysis/call-reports.js')).writeSyscallLog);

export const reportCommand: CommandModule = {
  command: 'report <kind>',
  describe: 'Reports over a trace: hotspots, calltree, apis, syscalls',
  builder: (y) => y.command(hotspotsCommand).command(calltreeCommand).command(apisCommand).command(syscallsCommand)
    .demandCommand(1, 'name a report: hotspots, calltree, apis or syscalls'),
  handler: () => {},
};
