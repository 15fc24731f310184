import type { CommandModule } from 'yargs';
import { UserError } from '../../base/errors.js';
import { Output } from '../../base/output.js';

interface Args {
  trace: string;
  thread?: number;
  from?: number;
  to?: number;
  func?: string;
  disasm: boolean;
  follow?: boolean;
  json?: boolean;
  regs?: boolean;
}

function sequenceNumber(flag: string, value: number | undefined): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) throw new UserError(`${flag} takes a sequence number, a whole number of 0 or more, not ${value}`);
  return value;
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
    .option('json', { type: 'boolean', describe: 'one JSON object per event, as export -F jsonl writes them' })
    .option('regs', { type: 'boolean', describe: 'every recorded instruction (--events insn) between the events: [module+0xoff] [bytes] ' +
      '0xaddress: text ; reads: registers read (values before) => registers written (values after), then its memory accesses (mr/mw); ? is a value not known' })
    .conflicts('follow', 'func')
    .conflicts('regs', ['follow', 'json']),
  handler: async (args) => {
    const [{ openTraceReadOnly }, { addInsnTables }, { replay }] = await Promise.all([import('../../store/database.js'),
      import('../../store/insn-tables.js'), import('../../analysis/replay.js')]);
    sequenceNumber('--from', args.from);
    sequenceNumber('--to', args.to);
    const db = openTraceReadOnly(args.trace);
    try {
      // --regs walks the instructions through the tables that read insn_chunks.
      if (args.regs) addInsnTables(db);
      await replay(db, {
        thread: args.thread, fromSeq: args.from, toSeq: args.to, func: args.func, disassemble: args.disasm, follow: args.follow, json: args.json, regs: args.regs,
      }, new Output());
    } finally {
      db.close();
    }
  },
};
