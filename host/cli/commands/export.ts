import type { CommandModule } from 'yargs';
import { UserError } from '../../base/errors.js';
import { Output } from '../../base/output.js';
import { openOutputFile } from '../output-file.js';

const FORMATS = ['drcov', 'chrome', 'folded', 'jsonl'] as const;

interface Args {
  trace: string;
  format: (typeof FORMATS)[number];
  output?: string;
  thread?: number;
}

export const exportCommand: CommandModule<object, Args> = {
  command: 'export <trace>',
  describe: 'Write a trace for other tools: drcov (Lighthouse), chrome (Perfetto), folded (flame graphs), jsonl',
  builder: (y) => y
    .positional('trace', { type: 'string', demandOption: true, describe: 'trace database' })
    .option('format', { alias: 'F', choices: FORMATS, demandOption: true, describe: 'output format' })
    .option('output', { alias: 'o', type: 'string', describe: 'file to write; - or none: standard output (drcov needs -o, binary)' })
    .option('thread', { alias: 't', type: 'number', describe: 'only this thread' }),
  handler: async (args) => {
    if (args.format === 'drcov' && args.output === undefined) throw new UserError('drcov is binary: name a file with -o');
    const [{ openAnalysis }, { threadIds }, { coveredBlocks, writeDrcov }, { writeChrome }, { writeFolded }, { writeJsonl }] = await Promise.all([
      import('../../analysis/analysis-db.js'), import('../../analysis/trace-facts.js'), import('../../analysis/export/drcov.js'),
      import('../../analysis/export/chrome.js'), import('../../analysis/export/folded.js'), import('../../analysis/export/jsonl.js'),
    ]);
    const analysis = openAnalysis(args.trace);
    try {
      const threads = threadIds(analysis.db, args.thread);
      if (args.thread !== undefined && threads.length === 0) throw new UserError(`the trace has no thread ${args.thread}`);
      // What can be known before the output is touched is checked first.
      const blocks = args.format === 'drcov' ? coveredBlocks(analysis.db, args.thread) : null;
      const path = args.output === undefined || args.output === '-' ? null : args.output;
      const file = path === null ? null : openOutputFile(path, [args.trace]);
      try {
        const out = file === null ? new Output() : new Output(file.stream, path!);
        if (blocks !== null) {
          const { outside } = await writeDrcov(analysis.db, blocks, out);
          if (outside > 0) console.error(`warning: ${outside} blocks outside every module were left out`);
        } else if (args.format === 'chrome') await writeChrome(analysis.db, threads, out);
        else if (args.format === 'folded') await writeFolded(analysis.db, threads, out);
        else await writeJsonl(analysis.db, threads, out);
        await out.flush();
        await file?.commit();
      } catch (e) {
        file?.discard();
        throw e;
      }
    } finally {
      analysis.close();
    }
  },
};
