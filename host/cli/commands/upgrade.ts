import type { CommandModule } from 'yargs';

interface Args {
  trace: string;
}

export const upgradeCommand: CommandModule<object, Args> = {
  command: 'upgrade <trace>',
  describe: 'Bring a trace from an older stalk-trace up to this one\'s schema, in place, so it can be read',
  builder: (y) => y.positional('trace', { type: 'string', demandOption: true, describe: 'trace database' }),
  handler: async (args) => {
    const { SCHEMA_VERSION, upgradeTrace } = await import('../../store/database.js');
    const from = upgradeTrace(args.trace);
    console.log(from === SCHEMA_VERSION
      ? `${args.trace} is already at trace schema version ${SCHEMA_VERSION}; nothing to do`
      : `upgraded ${args.trace} from trace schema version ${from} to ${SCHEMA_VERSION}`);
  },
};
