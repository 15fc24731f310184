#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readFileSync } from 'node:fs';
import { asUserError, UserError } from './errors.js';
import { packagePath } from '../paths.js';
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

async function main(argv: string[]): Promise<number> {
  const parser = yargs(argv)
    .scriptName('stalk-trace')
    .usage('$0 <command> [options]')
    .command(recordCommand)
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
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .check(numbersAreNumbers, true)
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    const failure = asUserError(e);
    if (failure === null) throw e;
    console.error(`stalk-trace: ${failure.message}${failure instanceof UsageError ? '\nRun `stalk-trace --help` for usage.' : ''}`);
    return failure.exitCode;
  }
  return 0;
}

process.exitCode = await main(hideBin(process.argv));
