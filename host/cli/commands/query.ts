import type { CommandModule } from 'yargs';
import { readFileSync } from 'node:fs';
import { fsReason, UserError } from '../../base/errors.js';
import { Output } from '../../base/output.js';
import type { NamedQuery, QueryFormat } from '../../analysis/query.js';

interface Args {
  trace?: string;
  sql?: string;
  file?: string;
  named?: string;
  list?: boolean;
  csv?: boolean;
  json?: boolean;
}

function chooseSql(args: Args, named: ReadonlyMap<string, NamedQuery>): string {
  const given = [args.sql, args.file, args.named].filter((v) => v !== undefined).length;
  if (given !== 1) throw new UserError('give the SQL one way: as an argument, --file FILE or --named NAME');
  if (args.file !== undefined) {
    try {
      return readFileSync(args.file, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read ${args.file}: ${fsReason(e)}`);
    }
  }
  if (args.named !== undefined) {
    const q = named.get(args.named);
    if (!q) throw new UserError(`no named query ${args.named}; --list shows them`);
    return q.sql;
  }
  return args.sql!;
}

export const queryCommand: CommandModule<object, Args> = {
  command: 'query [trace] [sql]',
  describe: 'Run SQL over a trace, opened read-only (views: calls, call_graph, functions, block_symbols, syscall_log, syscall_strings, api_log, api_arguments, resolved_events)',
  builder: (y) => y
    .positional('trace', { type: 'string', describe: 'trace database' })
    .positional('sql', { type: 'string', describe: 'one SQL statement that reads' })
    .option('file', { alias: 'f', type: 'string', describe: 'read the SQL from a file' })
    .option('named', { alias: 'n', type: 'string', describe: 'run a query shipped with stalk-trace (see --list)' })
    .option('list', { type: 'boolean', describe: 'list the named queries' })
    .option('csv', { type: 'boolean', describe: 'CSV output' })
    .option('json', { type: 'boolean', describe: 'one JSON object per row' })
    .conflicts('csv', 'json'),
  handler: async (args) => {
    const { namedQueries, runQuery } = await import('../../analysis/query.js');
    const named = namedQueries();
    if (args.list) {
      for (const [name, q] of named) console.log(`${name.padEnd(18)} ${q.description}`);
      return;
    }
    if (args.trace === undefined) throw new UserError('name a trace database');
    const sql = chooseSql(args, named);
    const format: QueryFormat = args.csv ? 'csv' : args.json ? 'json' : 'table';
    // Listing reads files only: SQLite's native binding is loaded for a trace.
    const { openAnalysis } = await import('../../analysis/analysis-db.js');
    const analysis = openAnalysis(args.trace);
    try {
      await runQuery(analysis.db, sql, format, new Output());
    } finally {
      analysis.close();
    }
  },
};
