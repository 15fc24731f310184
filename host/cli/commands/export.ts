import type { CommandModule } from 'yargs';
import { createWriteStream, openSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { fsReason, UserError } from '../errors.js';
import { Output } from '../output.js';
import { openAnalysis } from '../../analysis/session.js';
import { threadIds } from '../../analysis/trace-facts.js';
import { writeDrcov } from '../../analysis/export/drcov.js';
import { writeChrome } from '../../analysis/export/chrome.js';
import { writeFolded } from '../../analysis/export/folded.js';
import { writeJsonl } from '../../analysis/export/jsonl.js';

const FORMATS = ['drcov', 'chrome', 'folded', 'jsonl'] as const;

interface Args {
  trace: string;
  format: (typeof FORMATS)[number];
  output?: string;
  thread?: number;
}

/** Opened before anything is written, so a bad path is said at once. */
function openOutput(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (e) {
    throw new UserError(`cannot write ${path}: ${fsReason(e)}`);
  }
}

export const exportCommand: CommandModule<object, Args> = {
  command: 'export <trace>',
  describe: 'Write a trace for other tools: drcov (Lighthouse), chrome (Perfetto), folded (flame graphs), jsonl',
  builder: (y) => y
    .positional('trace', { type: 'string', demandOption: true, describe: 'trace database' })
    .option('format', { alias: 'F', choices: FORMATS, demandOption: true, describe: 'output format' })
    .option('output', { alias: 'o', type: 'string', describe: 'file to write; - or none: standard output (drcov needs -o, binary)' })
    .option('thread', { alias: 't', type: 'number', describe: 'only this thread (chrome, folded, jsonl)' }),
  handler: async (args) => {
    if (args.format === 'drcov' && args.output === undefined) throw new UserError('drcov is binary: name a file with -o');
    const session = openAnalysis(args.trace);
    try {
      const threads = threadIds(session.db, args.thread);
      if (args.thread !== undefined && threads.length === 0) throw new UserError(`the trace has no thread ${args.thread}`);
      const path = args.output === undefined || args.output === '-' ? null : args.output;
      const file = path === null ? null : createWriteStream(path, { fd: openOutput(path) });
      try {
        const out = new Output(file ?? process.stdout);
        if (args.format === 'drcov') {
          const { outside } = await writeDrcov(session.db, out);
          if (outside > 0) console.error(`warning: ${outside} blocks outside every module were left out`);
        } else if (args.format === 'chrome') await writeChrome(session.db, threads, out);
        else if (args.format === 'folded') await writeFolded(session.db, threads, out);
        else await writeJsonl(session.db, threads, out);
        if (file !== null) {
          file.end();
          await once(file, 'finish').catch((e: unknown) => {
            throw new UserError(`cannot write ${path}: ${fsReason(e)}`);
          });
        }
      } catch (e) {
        // No half-written export is left behind.
        if (path !== null) {
          file?.destroy();
          rmSync(path, { force: true });
        }
        throw e;
      }
    } finally {
      session.close();
    }
  },
};
