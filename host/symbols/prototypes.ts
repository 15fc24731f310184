import { readFileSync } from 'node:fs';
import { fsReason, UserError } from '../base/errors.js';
import { ApiPrototype, PointeeKind } from '../schema/layout.generated.js';
import { packagePath } from '../base/paths.js';
import type { TraceDb } from '../store/database.js';
import { parseArgType, typeText, type ArgType } from './arg-types.js';

/**
 * Library function prototypes in drltrace's syntax: one function a line,
 * `RET|Name|ARG1|ARG2…`, `__out`/`__inout` before an argument read when the call returns,
 * `#` comments, spaces not significant.
 */
export interface Prototype {
  name: string;
  /** null: void. */
  ret: ArgType | null;
  args: ArgType[];
}

/** The prototypes stalk-trace ships: glibc and bionic, files, processes, memory, sockets, loading, strings. */
export const DEFAULT_PROTOTYPES = packagePath('schemas', 'prototypes', 'libc.config');

const NAME = /^[A-Za-z_][\w@.$]*$/;

/** Parses one prototype line (comments and blanks already removed); a string says what is wrong. */
function parseLine(line: string): Prototype | string {
  const fields = line.split('|').map((f) => f.trim());
  if (fields.length < 2) return 'expected RET|Name|ARG…, with fields separated by |';
  const [retText, name, ...argTexts] = fields;
  if (retText === '') return 'the return type is missing';
  if (name === '') return 'the function name is missing';
  if (!NAME.test(name)) return `"${name}" is not a function name`;
  let ret: ArgType | null = null;
  if (retText !== 'void') {
    const parsed = parseArgType(retText);
    if (typeof parsed === 'string') return `return type: ${parsed}`;
    if (parsed.direction !== 'in') return 'the return type cannot be __out or __inout';
    ret = parsed;
  }
  const texts = argTexts.length === 1 && argTexts[0] === 'void' ? [] : argTexts;
  if (texts.length > ApiPrototype.maxArgs) return `${texts.length} arguments; at most ${ApiPrototype.maxArgs} are read`;
  const args: ArgType[] = [];
  for (const [i, text] of texts.entries()) {
    const parsed = parseArgType(text);
    if (typeof parsed === 'string') return `argument ${i}: ${parsed}`;
    args.push(parsed);
  }
  return { name, ret, args };
}

/** Parses a prototype file's text; `file` names it in errors, which say the line and what is wrong. */
export function parsePrototypes(text: string, file: string): Prototype[] {
  const seen = new Map<string, number>();
  const out: Prototype[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const where = `${file}:${i + 1}`;
    const parsed = parseLine(line);
    if (typeof parsed === 'string') throw new UserError(`${where}: ${parsed}`);
    const first = seen.get(parsed.name);
    if (first !== undefined) throw new UserError(`${where}: ${parsed.name} is already declared on line ${first}`);
    seen.set(parsed.name, i + 1);
    out.push(parsed);
  });
  return out;
}

/** The default prototypes, then each --config file in order: a later declaration replaces an earlier one. */
export function loadPrototypes(configFiles: string[]): Map<string, Prototype> {
  const all = new Map<string, Prototype>();
  for (const file of [DEFAULT_PROTOTYPES, ...configFiles]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read prototype file ${file}: ${fsReason(e)}`);
    }
    for (const p of parsePrototypes(text, file)) all.set(p.name, p);
  }
  return all;
}

/** As a capture's apis frame keeps it: [return type, name, argument types]. */
export const prototypeEntry = (p: Prototype): [string, string, string[]] =>
  [p.ret === null ? 'void' : typeText(p.ret), p.name, p.args.map(typeText)];

/** Back from a capture's apis frame; the types were checked when the recording was made. */
export function prototypeFromEntry([ret, name, args]: [string, string, string[]]): Prototype {
  const type = (t: string) => {
    const parsed = parseArgType(t);
    if (typeof parsed === 'string') throw new UserError(`the trace's prototype for ${name} is damaged: ${parsed}`);
    return parsed;
  };
  return { name, ret: ret === 'void' ? null : type(ret), args: args.map(type) };
}

/** What an input argument points to that is worth reading: strings and socket addresses (other pointees only change on return). */
const READ_AT_ENTRY = new Set<number>([PointeeKind.string, PointeeKind.wstring, PointeeKind.sockaddr]);

/** The prototypes a trace was recorded with (api_prototypes), by name. */
export function storedPrototypes(db: TraceDb): Map<string, Prototype> {
  const rows = db.prepare('SELECT name, ret_type, arg_types FROM api_prototypes').all() as { name: string; ret_type: string; arg_types: string }[];
  return new Map(rows.map((r) => [r.name, prototypeFromEntry([r.ret_type, r.name, JSON.parse(r.arg_types)])]));
}

/**
 * The bytes the transformer reads for a function (records.json apiPrototype): how many
 * arguments, and what each points to that is read at entry and at return.
 */
export function encodePrototype(argc: number, p: Prototype | null): number[] {
  const bytes = new Array<number>(ApiPrototype.size).fill(0);
  bytes[ApiPrototype.argc] = argc;
  if (p === null) return bytes;
  bytes[ApiPrototype.ret] = p.ret !== null && (p.ret.pointee === PointeeKind.string || p.ret.pointee === PointeeKind.wstring) ? p.ret.pointee : PointeeKind.none;
  p.args.slice(0, argc).forEach((a, i) => {
    if (a.direction === 'in' && READ_AT_ENTRY.has(a.pointee)) bytes[ApiPrototype.entry + i] = a.pointee;
    if (a.direction === 'inout') bytes[ApiPrototype.entry + i] = a.pointee;
    if (a.direction !== 'in') bytes[ApiPrototype.exit + i] = a.pointee;
  });
  return bytes;
}
