import type { CommandModule } from 'yargs';
import { Output } from '../output.js';
import { openTraceReadOnly } from '../../store/database.js';
import { replay } from '../../analysis/replay.js';

interface Args {
  trace: string;
  thread?: number;
  from?: number;
  to?: number;
  func?: string;
  disasm: boolean;
  follow?: boolean;
}

export const replayCommand: CommandModule<object, Args> = {
  command: 'replay <trace>',
  describe: 'The recorded blocks of each thread in order, disassembled, with calls, returns and syscalls',
  builder: (y) => y
    .positional('trace', { type: 'string', demandOption: true, describe: 'trace database' })
    .option('thread', { alias: 't', type: 'number', describe: 'only this thread' })
    .option('from', { type: 'number', describe: 'first sequence number' })
    .option('to', { type: 'number', describe: 'last sequence number' })
    .option('func', { type: 'string', describe: 'only the activations of this function (module!symbol or symbol)' })
    .option('disasm', { type: 'boolean', default: true, describe: 'disassemble blocks (--no-disasm: names only)' })
    .option('follow', { type: 'boolean', describe: 'keep printing while a recording writes the trace' })
    .conflicts('follow', 'func'),
  handler: async (args) => {
    const db = openTraceReadOnly(args.trace);
    try {
      await replay(db, {
        thread: args.thread, fromSeq: args.from, toSeq: args.to, func: args.func, disassemble: args.disasm, follow: args.follow,
      }, new Output());
    } finally {
      db.close();
    }
  },
};
