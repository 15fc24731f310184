import type { CommandModule } from 'yargs';
import { ingestCapture } from '../../ingest/ingest-capture.js';
import { formatInfo, traceInfo } from '../../analysis/info.js';
import { openTraceReadOnly } from '../../store/database.js';

interface Args {
  capture: string;
  output?: string;
}

export const ingestCommand: CommandModule<object, Args> = {
  command: 'ingest <capture>',
  describe: 'Turn a capture file (.stcap) into a trace database, or finish one a recording left',
  builder: (y) => y
    .positional('capture', { type: 'string', demandOption: true, describe: 'capture file written by record' })
    .option('output', { alias: 'o', type: 'string', describe: 'trace database (default: the capture name with .db)' }),
  handler: (args) => {
    const output = args.output ?? args.capture.replace(/\.stcap$/, '') + '.db';
    const result = ingestCapture(args.capture, output, (warning) => console.error(`warning: ${warning}`));
    console.log(result.frames === 0
      ? `${output} already holds all of ${args.capture}`
      : `ingested ${result.frames.toLocaleString('en-US')} frames from ${args.capture} into ${output}`);
    const db = openTraceReadOnly(output);
    try {
      console.log(formatInfo(traceInfo(db)));
    } finally {
      db.close();
    }
  },
};
