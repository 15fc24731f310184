/**
 * Usage mistakes in the words of the command line the user typed: yargs' own sentences ("Not
 * enough non-option arguments: got 0, need at least 1", "Unknown argument: t.db") name neither
 * the command nor what was missing.
 */

/** Each command's words, its subcommands, and its positionals with what each one is. */
interface CommandShape {
  positionals?: [name: string, what: string][];
  subcommands?: Record<string, CommandShape>;
}

const TRACE: [string, string] = ['trace', 'the trace database to read'];

const SHAPES: Record<string, CommandShape> = {
  record: {},
  devices: {},
  ingest: { positionals: [['capture', 'the capture file (.stcap) to ingest']] },
  info: { positionals: [TRACE] },
  query: {},
  replay: { positionals: [TRACE] },
  export: { positionals: [TRACE] },
  upgrade: { positionals: [['trace', 'the trace database to upgrade']] },
  report: {
    subcommands: {
      hotspots: { positionals: [TRACE] }, calltree: { positionals: [TRACE] }, apis: { positionals: [TRACE] }, syscalls: { positionals: [TRACE] },
    },
  },
};

const listed = (names: string[]) => `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;

/** The words before the options: `report hotspots` in `report hotspots t.db --top 3`. */
function commandPath(argv: string[]): { path: string[]; shape: CommandShape | null; unknown: string | null; words: string[] } {
  const words = argv.filter((a) => !a.startsWith('-'));
  let shapes: Record<string, CommandShape> | undefined = SHAPES;
  let shape: CommandShape | null = null;
  const path: string[] = [];
  for (const word of words) {
    if (shapes === undefined) break;
    const next: CommandShape | undefined = shapes[word];
    if (next === undefined) return { path, shape, unknown: word, words: words.slice(path.length) };
    path.push(word);
    shape = next;
    shapes = next.subcommands;
  }
  return { path, shape, unknown: null, words: words.slice(path.length) };
}

/** A sentence for what yargs refused, or null where its own is clear enough. */
export function usageSentence(message: string, argv: string[]): string | null {
  const { path, shape, unknown, words } = commandPath(argv);
  if (unknown !== null && shape?.subcommands !== undefined) {
    return `unknown ${path.join(' ')} ${unknown}; name one of ${listed(Object.keys(shape.subcommands))}`;
  }
  const unknownOption = /^Unknown arguments?: (.*)$/.exec(message);
  if (unknownOption !== null) {
    // yargs lists each unknown option twice (as typed and camelCased) and drops a --no- prefix.
    const typed = argv.filter((a) => a.startsWith('-')).map((a) => a.replace(/=.*$/, ''));
    const names = unknownOption[1].split(', ').map((n) => typed.find((t) => t.replace(/^-+(no-)?/, '') === n)).filter((t) => t !== undefined);
    const where = path.length > 0 ? ` for ${path.join(' ')}` : '';
    if (names.length > 0) return `unknown option${names.length > 1 ? 's' : ''} ${names.join(', ')}${where}`;
  }
  if (/^Not enough non-option arguments/.test(message) && shape !== null) {
    if (shape.subcommands !== undefined) return `${path.join(' ')} needs one of ${listed(Object.keys(shape.subcommands))}`;
    const missing = shape.positionals?.[words.length];
    if (missing !== undefined) return `${path.join(' ')} needs <${missing[0]}>, ${missing[1]}`;
  }
  return null;
}

/** A word where a command was expected (`stalk-trace frobnicate`). */
export const unknownCommand = (word: string) => `unknown command ${word}; the commands are ${listed(Object.keys(SHAPES))}`;

/**
 * Splits a record command line at the program: everything after `-f PROGRAM` (and after a `--`
 * there) belongs to the program, as with strace and uftrace, so `-f sort -u FILE` passes `-u`.
 */
export function splitProgramArgs(argv: string[]): { own: string[]; program: string[] } {
  const [first] = argv;
  if (first !== undefined && first !== 'record' && !first.startsWith('-')) return { own: argv, program: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return { own: argv.slice(0, i), program: argv.slice(i + 1) };
    const valueAt = a === '-f' || a === '--file' ? i + 1 : a.startsWith('--file=') || /^-f./.test(a) ? i : -1;
    if (valueAt < 0) continue;
    const rest = argv.slice(valueAt + 1);
    return { own: argv.slice(0, valueAt + 1), program: rest[0] === '--' ? rest.slice(1) : rest };
  }
  return { own: argv, program: [] };
}
