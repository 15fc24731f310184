import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../errors.js';
import { openAnalysis, type AnalysisSession } from '../../analysis/session.js';
import { diffHotspots, hotspots, sortFunctions, type SortKey } from '../../analysis/hotspots.js';
import { formatDiff, formatHotspots } from '../../analysis/hotspots-format.js';
import { buildCallTree } from '../../analysis/call-tree.js';
import { formatCallTreeDot, formatCallTreeText } from '../../analysis/call-tree-format.js';
import { costUnit, locationNames, threadIds, threadName } from '../../analysis/trace-facts.js';
import { writeApiLog, writeSyscallLog } from '../../analysis/call-reports.js';
import type { TraceDb } from '../../store/database.js';
import { Output } from '../output.js';

interface Common {
  trace: string;
  thread?: number;
}

function withTrace<T>(path: string, run: (s: AnalysisSession) => T): T {
  const session = openAnalysis(path);
  try {
    return run(session);
  } finally {
    session.close();
  }
}

function checkThread(session: AnalysisSession, thread: number | undefined): void {
  if (thread !== undefined && threadIds(session.db, thread).length === 0) throw new UserError(`the trace has no thread ${thread}`);
}

const common = <T>(y: Argv<T>) => y
  .positional('trace', { type: 'string', demandOption: true, describe: 'trace database' })
  .option('thread', { alias: 't', type: 'number', describe: 'only this thread' });

interface HotspotArgs extends Common {
  sort: SortKey;
  top: number;
  module?: string;
  diff?: string;
  json?: boolean;
}

const hotspotsCommand: CommandModule<object, HotspotArgs> = {
  command: 'hotspots <trace>',
  describe: 'Functions by cost: calls, self and total, callers and callees',
  builder: (y) => common(y)
    .option('sort', { choices: ['total', 'self', 'calls'] as const, default: 'total' as SortKey })
    .option('top', { type: 'number', default: 20, describe: 'show this many functions' })
    .option('module', { alias: 'm', type: 'string', describe: 'only functions of this module (glob)' })
    .option('diff', { type: 'string', describe: 'compare with another trace of the same program' })
    .option('json', { type: 'boolean', describe: 'machine-readable output' }) as Argv<HotspotArgs>,
  handler: (args) => {
    const options = { thread: args.thread, module: args.module };
    const base = withTrace(args.trace, (s) => {
      checkThread(s, args.thread);
      return hotspots(s.db, options);
    });
    if (args.diff !== undefined) {
      const other = withTrace(args.diff, (s) => hotspots(s.db, options));
      if (other.unit !== base.unit) throw new UserError(`the traces count different costs (${base.unit} and ${other.unit}); record both with the same --events`);
      const rows = diffHotspots(base, other);
      console.log(args.json ? JSON.stringify(rows, null, 2) : formatDiff(rows, base.unit, args.sort, args.top));
      return;
    }
    console.log(args.json
      ? JSON.stringify({ ...base, functions: sortFunctions(base.functions, args.sort).slice(0, args.top) }, null, 2)
      : formatHotspots(base, args.sort, args.top));
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
    .option('depth', { alias: 'd', type: 'number', default: Infinity, defaultDescription: 'all', describe: 'levels to show' })
    .option('format', { choices: ['text', 'dot'] as const, default: 'text' as const, describe: 'text, or Graphviz dot' }) as Argv<CallTreeArgs>,
  handler: (args) => {
    withTrace(args.trace, (s) => {
      checkThread(s, args.thread);
      const trees = threadIds(s.db, args.thread).map((tid) => ({ tid, name: threadName(s.db, tid), root: buildCallTree(s.db, tid) }));
      const format = args.format === 'dot' ? formatCallTreeDot : formatCallTreeText;
      console.log(format(trees, locationNames(s.db), costUnit(s.db), args.depth));
    });
  },
};

/** A report written as it is read, in constant memory. */
const streamed = (command: string, describe: string, write: (db: TraceDb, thread: number | undefined, out: Output) => Promise<void>): CommandModule<object, Common> => ({
  command: `${command} <trace>`,
  describe,
  builder: (y) => common(y) as Argv<Common>,
  handler: async (args) => {
    const session = openAnalysis(args.trace);
    try {
      checkThread(session, args.thread);
      await write(session.db, args.thread, new Output());
    } finally {
      session.close();
    }
  },
});

const apisCommand = streamed('apis', 'Library calls with their arguments and results, in drltrace\'s log layout (record --apis)', writeApiLog);
const syscallsCommand = streamed('syscalls', 'Syscalls with decoded arguments and results, one line each as strace shows them', writeSyscallLog);

export const reportCommand: CommandModule = {
  command: 'report <kind>',
  describe: 'Reports over a trace: hotspots, calltree, apis, syscalls',
  builder: (y) => y.command(hotspotsCommand).command(calltreeCommand).command(apisCommand).command(syscallsCommand)
    .demandCommand(1, 'name a report: hotspots, calltree, apis or syscalls'),
  handler: () => {},
};
