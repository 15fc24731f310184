import { constants } from 'node:os';
import type { CommandModule } from 'yargs';
import { fsReason, UserError } from '../../base/errors.js';
import { Output } from '../../base/output.js';
import { table } from '../../base/text-table.js';
import type { ArchName } from '../../schema/layout.generated.js';
import { openOutputDir, openOutputFile, openOutputFiles } from '../output-file.js';

const FORMATS = ['drcov', 'chrome', 'folded', 'jsonl', 'tenet', 'parquet'] as const;

const EXPORT_HELP = `-F tenet: Tenet's text trace (IDA Pro's Tenet trace explorer) of a trace recorded with
--events insn, one file per thread: -o OUT writes OUT.<tid> for each thread with instruction
records; with -t, OUT itself (or standard output without -o). A line is the state at one
instruction: the registers the previous one changed (every known one on the first line), the
program counter last (rip, or pc on arm64, whose x29 and x30 are fp and lr), then the memory the
previous instruction read and wrote (mr=, mw=, mrw= 0xADDR:bytes in memory order), as Tenet's
own tracer writes it. Memory the kernel wrote in a syscall is an mw= with the syscall
instruction's changes. Left out: flags and vector registers (Tenet reads neither), values not
known (before the thread's first register sync) or not recorded, and the last instruction's own
changes (no line follows it).

-F parquet: a directory of Parquet files, one per table, for DuckDB, Spark, ClickHouse and the
like: -o DIR names it, and it must not exist yet. events, calls, functions, call_graph, blocks,
syscalls, syscall_strings, api_calls, api_arguments, threads, modules and trace, as the views of
the same names (resolved_events, block_symbols, api_log) show them; insns, reg_writes,
mem_accesses and insn_syncs when instructions were recorded. Addresses, raw register and
argument values are unsigned 64-bit integers, other integers signed, flags booleans.`;

interface Args {
  trace: string;
  format: (typeof FORMATS)[number];
  output?: string;
  thread?: number;
}

export const exportCommand: CommandModule<object, Args> = {
  command: 'export <trace>',
  describe: 'Write a trace for other tools: drcov (Lighthouse), chrome (Perfetto), folded (flame graphs), jsonl, tenet (Tenet, per thread), parquet (a directory, per table)',
  builder: (y) => y
    .positional('trace', { type: 'string', demandOption: true, describe: 'trace database' })
    .option('format', { alias: 'F', choices: FORMATS, demandOption: true, describe: 'output format' })
    .option('output', { alias: 'o', type: 'string', describe: 'file to write; - or none: standard output (drcov needs -o, binary; tenet: OUT.<tid> per thread; parquet: a new directory)' })
    .option('thread', { alias: 't', type: 'number', describe: 'only this thread' })
    .epilog(EXPORT_HELP),
  handler: async (args) => {
    if (args.format === 'drcov' && args.output === undefined) throw new UserError('drcov is binary: name a file with -o');
    if (args.format === 'tenet') return exportTenet(args);
    if (args.format === 'parquet') return exportParquet(args);
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

/**
 * One Tenet file per thread: every name is checked and opened aside first, all are written and
 * closed, and only then renamed over the names, so a failure anywhere leaves every one as it was.
 */
async function exportTenet(args: Args): Promise<void> {
  const [{ openAnalysis }, { tenetThreads, writeTenet }] = await Promise.all([
    import('../../analysis/analysis-db.js'), import('../../analysis/export/tenet.js'),
  ]);
  const toStdout = args.output === undefined || args.output === '-';
  if (toStdout && args.thread === undefined) throw new UserError('tenet writes one file per thread: name a file with -o, or one thread with -t');
  const analysis = openAnalysis(args.trace);
  try {
    const threads = tenetThreads(analysis.db, args.thread);
    const arch = analysis.db.prepare('SELECT arch FROM trace').pluck().get() as ArchName;
    if (toStdout) {
      const out = new Output();
      await writeTenet(analysis.db, arch, threads[0], out);
      return await out.end();
    }
    const paths = args.thread === undefined ? threads.map((t) => `${args.output}.${t}`) : [args.output!];
    const files = openOutputFiles(paths, [args.trace]);
    try {
      for (const [i, file] of files.entries()) {
        const out = new Output(file.stream, paths[i]);
        await writeTenet(analysis.db, arch, threads[i], out);
        await out.flush();
        await file.close();
      }
      for (const file of files) await file.commit();
    } catch (e) {
      for (const file of files) file.discard();
      throw e;
    }
  } finally {
    analysis.close();
  }
}

/** Ctrl+C and kill stop a Parquet export between batches, and nothing of it is left; the exit status is the shell's 128 + the signal's number. */
const STOPPING_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

async function exportParquet(args: Args): Promise<void> {
  if (args.output === undefined || args.output === '-') throw new UserError('parquet writes a directory of files, one per table: name it with -o DIR');
  if (args.thread !== undefined) throw new UserError('parquet writes the whole trace: select a thread by thread_id where the files are read');
  const [{ openAnalysis }, { writeParquetTables }] = await Promise.all([
    import('../../analysis/analysis-db.js'), import('../../analysis/export/parquet.js'),
  ]);
  const analysis = openAnalysis(args.trace);
  const stop = new AbortController();
  const stops = STOPPING_SIGNALS.map((signal) => [signal, () => stop.abort(
    new UserError(`interrupted: ${args.output} was not created`, 128 + constants.signals[signal]))] as const);
  // Listening before the directory is made: a signal never finds it without someone to remove it.
  for (const [signal, handler] of stops) process.on(signal, handler);
  try {
    const dir = openOutputDir(args.output);
    try {
      const files = await writeParquetTables(analysis.db, dir.path, stop.signal);
      dir.commit();
      const size = (bytes: number) => (bytes < 1 << 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`);
      console.log(`${args.output}:`);
      console.log(table(['file', 'rows', 'size'], files.map((f) => [f.file, f.rows.toLocaleString('en-US'), size(f.bytes)]), [false, true, true])
        .map((line) => `  ${line}`).join('\n'));
    } catch (e) {
      dir.discard();
      // A write the file system refused (a full disk, a size limit) is said of the directory the user named.
      throw (e as NodeJS.ErrnoException).syscall === undefined ? e : new UserError(`cannot write ${args.output}: ${fsReason(e)}`);
    }
  } finally {
    for (const [signal, handler] of stops) process.off(signal, handler);
    analysis.close();
  }
}
