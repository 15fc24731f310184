#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readFileSync } from 'node:fs';
import { asUserError, fsReason, UserError } from '../base/errors.js';
import { packagePath } from '../base/paths.js';
import { splitProgramArgs, usageSentence } from './usage.js';
import { devicesCommand } from './commands/devices.js';
import { exportCommand } from './commands/export.js';
import { infoCommand } from './commands/info.js';
import { ingestCommand } from './commands/ingest.js';
import { queryCommand } from './commands/query.js';
import { recordCommand } from './commands/record.js';
import { replayCommand } from './commands/replay.js';
import { reportCommand } from './commands/report.js';
import { upgradeCommand } from './commands/upgrade.js';

const { version } = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string };

/** A command line yargs could not make sense of: said with a pointer to --help. */
class UsageError extends UserError {}

/** Numeric options that were given something else arrive as NaN. */
function numbersAreNumbers(argv: Record<string, unknown>): true {
  for (const [name, value] of Object.entries(argv)) {
    const values = Array.isArray(value) ? value : [value];
    if (name.length > 1 && !name.includes('-') && values.some((v) => typeof v === 'number' && Number.isNaN(v))) {
      throw new UsageError(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} takes a number`);
    }
  }
  return true;
}

/**
 * What was printed must have arrived: console.log drops write errors (a full disk, a closed
 * file), so stdout's are collected here and the command fails if there was one. A reader that
 * went away (EPIPE, `| head`) is not a failure.
 */
let stdoutFailure: NodeJS.ErrnoException | null = null;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') stdoutFailure ??= e;
});
const stdoutSettled = () => new Promise<void>((resolve) => process.stdout.write('', () => resolve()));

/**
 * SQL and other values may begin with `--` (a comment) or `-`: yargs would read them as
 * options. An argument with whitespace in it is never an option name, so it is passed through
 * under a placeholder and restored before the command sees it.
 */
function shieldLiterals(argv: string[]): { argv: string[]; restore: (args: Record<string, unknown>) => void } {
  const literals = new Map<string, string>();
  const shielded = argv.map((a) => {
    if (!/^-/.test(a) || !/\s/.test(a)) return a;
    const key = `\u0001literal${literals.size}\u0001`;
    literals.set(key, a);
    return key;
  });
  const restore = (args: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(args)) {
      if (typeof v === 'string' && literals.has(v)) args[k] = literals.get(v);
      else if (Array.isArray(v)) args[k] = v.map((x) => (typeof x === 'string' ? literals.get(x) ?? x : x));
    }
  };
  return { argv: shielded, restore };
}

async function main(argv: string[]): Promise<number> {
  const { own, program } = splitProgramArgs(argv);
  const { argv: shielded, restore } = shieldLiterals(own);
  const parser = yargs(shielded)
    .scriptName('stalk-trace')
    .usage('$0 <command> [options]')
    .command(recordCommand(program))
    .command(devicesCommand)
    .command(ingestCommand)
    .command(infoCommand)
    .command(queryCommand)
    .command(reportCommand)
    .command(replayCommand)
    .command(exportCommand)
    .command(upgradeCommand)
    .demandCommand(1, 'name a command')
    .strict()
    .version(version)
    // yargs' own words in English whatever LANG says, like ours: usageSentence() reads them, and
    // the bundle (dist/bundle/) carries no yargs locale files.
    .locale('en')
    .help()
    .alias('h', 'help')
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .middleware(restore, true)
    .check(numbersAreNumbers, true)
    .fail((message, error) => {
      throw error ?? new UsageError(usageSentence(message, own) ?? message);
    });
  let code = 0;
  try {
    await parser.parseAsync();
  } catch (e) {
    const failure = asUserError(e);
    if (failure === null) throw e;
    console.error(`stalk-trace: ${failure.message}${failure instanceof UsageError ? '\nRun `stalk-trace --help` for usage.' : ''}`);
    code = failure.exitCode;
  }
  await stdoutSettled();
  if (stdoutFailure !== null && code === 0) {
    console.error(`stalk-trace: cannot write the output: ${fsReason(stdoutFailure)}`);
    return 1;
  }
  return code;
}

// Everything a command does is finished and its output delivered when main returns; leaving at
// once matters after a recording, where Frida's detach may wait on target threads still
// inside Stalker's code (see session/process-recording.ts).
process.exit(await main(hideBin(process.argv)));
