#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readFileSync } from 'node:fs';
import { UserError } from './errors.js';
import { packagePath } from '../paths.js';
import { devicesCommand } from './commands/devices.js';
import { exportCommand } from './commands/export.js';
import { infoCommand } from './commands/info.js';
import { ingestCommand } from './commands/ingest.js';
import { queryCommand } from './commands/query.js';
import { recordCommand } from './commands/record.js';
import { replayCommand } from './commands/replay.js';
import { reportCommand } from './commands/report.js';

const { version } = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string };

async function main(argv: string[]): Promise<number> {
  let usageError: string | undefined;
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
    .demandCommand(1, 'name a command')
    .strict()
    .version(version)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((message, error) => {
      if (error) throw error;
      usageError = message;
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`stalk-trace: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
  if (usageError) {
    console.error(`stalk-trace: ${usageError}\nRun \`stalk-trace --help\` for usage.`);
    return 1;
  }
  return 0;
}

process.exitCode = await main(hideBin(process.argv));
