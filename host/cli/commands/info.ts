import type { CommandModule } from 'yargs';

interface Args {
  trace: string;
  json?: boolean;
}

export const infoCommand: CommandModule<object, Args> = {
  command: 'info <trace>',
  describe: 'What a trace holds: target, threads, modules, events by kind, losses, how it ended',
  builder: (y) => y
    .positional('trace', { type: 'string', demandOption: true, describe: 'trace database' })
    .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  handler: async (args) => {
    const [{ formatInfo, traceInfo }, { openTraceReadOnly }] = await Promise.all([import('../../analysis/info.js'), import('../../store/database.js')]);
    const db = openTraceReadOnly(args.trace);
    try {
      const info = traceInfo(db);
      console.log(args.json ? JSON.stringify(info, null, 2) : formatInfo(info));
    } finally {
      db.close();
    }
  },
};
