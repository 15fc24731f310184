import { constants } from 'node:os';
import type { CommandModule } from 'yargs';

interface Args {
  capture: string;
  output?: string;
  keepGood?: boolean;
}

/** Ctrl+C and kill stop an ingest cleanly; the exit status is then the shell's 128 + the signal's number. */
const STOPPING_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export const ingestCommand: CommandModule<object, Args> = {
  command: 'ingest <capture>',
  describe: 'Turn a capture file (.stcap) into a trace database, or finish one a recording left',
  builder: (y) => y
    .positional('capture', { type: 'string', demandOption: true, describe: 'capture file written by record' })
    .option('output', { alias: 'o', type: 'string', describe: 'trace database (default: the capture name with .db)' })
    .option('keep-good', { type: 'boolean', describe: 'of a damaged capture, store every frame before the damage' }),
  handler: async (args) => {
    const output = args.output ?? args.capture.replace(/\.stcap$/, '') + '.db';
    const [{ IngestJob }, { formatInfo, traceInfo }, { openTraceReadOnly }] = await Promise.all([
      import('../../ingest/ingest-job.js'), import('../../analysis/info.js'), import('../../store/database.js'),
    ]);
    // Progress on a terminal only: a log or a pipe gets the summary alone.
    const tty = process.stderr.isTTY === true;
    const mib = (n: number) => (n / (1 << 20)).toFixed(0);
    const job = new IngestJob(args.capture, output, args.keepGood ?? false, (warning) => console.error(`warning: ${warning}`),
      (position, end) => tty && process.stderr.write(`\ringesting ${args.capture}: ${Math.floor((100 * position) / end)}% (${mib(position)} of ${mib(end)} MiB)\x1b[K`));
    const stops = STOPPING_SIGNALS.map((signal) => [signal, () => job.stop(128 + constants.signals[signal])] as const);
    for (const [signal, stop] of stops) process.on(signal, stop);
    let frames: number;
    try {
      ({ frames } = await job.finished);
    } finally {
      for (const [signal, stop] of stops) process.off(signal, stop);
      if (tty) process.stderr.write('\r\x1b[K');
    }
    console.log(frames === 0
      ? `${output} already holds all of ${args.capture}`
      : `ingested ${frames.toLocaleString('en-US')} frames from ${args.capture} into ${output}`);
    const db = openTraceReadOnly(output);
    try {
      console.log(formatInfo(traceInfo(db)));
    } finally {
      db.close();
    }
  },
};
