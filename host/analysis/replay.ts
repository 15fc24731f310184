import { setTimeout as sleep } from 'node:timers/promises';
import type { Statement } from 'better-sqlite3';
import { UserError } from '../base/errors.js';
import type { Output } from '../base/output.js';
import type { TraceDb } from '../store/database.js';
import { callLists, eventCursor, storedCalls, type EventCursor } from '../store/stored-events.js';
import { ApiFormatter, type ApiCallRow } from './api-text.js';
import { storedPrototypes } from '../symbols/prototypes.js';
import { apiCallById, syscallById, type StoredSyscall } from './call-records.js';
import { SyscallFormatter } from './syscall-text.js';
import { createDisassembler, type Disassemble } from './disassembler.js';
import { threadIds, threadName } from './trace-facts.js';
import { quoted } from '../base/text-table.js';
import { EventJson } from './event-json.js';
import { AddressNames, nameBranchTarget } from './address-names.js';
import { toJson } from './json.js';
import { InsnLines } from './insn-lines.js';
import type { ArchName } from '../schema/layout.generated.js';
import { createDecoder } from './disassembler.js';

/**
 * With --regs: prints a thread's instructions up to each event, from where the window starts.
 * An event's chunk says the instruction seq when it began, and no instruction of the thread ran
 * between the events of one chunk.
 */
class InsnMerge {
  private readonly next = new Map<number, number>();
  constructor(private readonly insns: InsnLines) {}

  /** The window starts at this event: instructions before it are not printed. */
  start(e: EventCursor): void {
    this.next.set(e.threadId, e.insnSeq ?? 0);
  }

  /** Lines of the thread's instructions before `insnSeq` (Infinity: all the rest). */
  until(tid: number, insnSeq: number): string[] {
    const from = this.next.get(tid) ?? 0;
    if (insnSeq <= from) return [];
    this.next.set(tid, insnSeq);
    return this.insns.lines(tid, from, insnSeq);
  }
}

export interface ReplayOptions {
  thread?: number;
  fromSeq?: number;
  toSeq?: number;
  /** Only the activations of this function: module!symbol, or a symbol in any module. */
  func?: string;
  disassemble: boolean;
  /** One JSON object per event (see json.ts) instead of text lines. */
  json?: boolean;
  /** Keep printing what a running recording adds, until it ends. */
  follow?: boolean;
  /** Each recorded instruction (--events insn) between the events, with the registers it read and wrote and its memory accesses. */
  regs?: boolean;
}

/** What replay prints: a heading for each thread or activation, and the lines of each event. */
interface Lines {
  heading(text: string): string[];
  lines(e: EventCursor): string[];
  resetIndent(): void;
}

/** Events as JSON lines: headings are left out, every event carries its thread. */
class JsonLines implements Lines {
  private readonly json: EventJson;
  constructor(db: TraceDb) {
    this.json = new EventJson(db);
  }
  heading = () => [];
  lines = (e: EventCursor) => [toJson(this.json.of(e))];
  resetIndent(): void {}
}

/** Renders events as text lines: what each needs from the trace is looked up once and cached. */
class Renderer implements Lines {
  private readonly names = new Map<number, string>();
  private readonly codes = new Map<string, Buffer | null>();
  private readonly nameOf: Statement;
  private readonly addressOf: Statement;
  private readonly codeOf: Statement;
  private readonly syscallOf: (id: number) => StoredSyscall | undefined;
  private readonly syscallFormat: SyscallFormatter;
  private readonly apiCallOf: (id: number) => ApiCallRow | undefined;
  private readonly apiFormat: ApiFormatter;
  private baseDepth: number | undefined;
  private addressNames: AddressNames | undefined;

  constructor(private readonly db: TraceDb, private readonly disassemble: Disassemble | undefined) {
    this.nameOf = db.prepare('SELECT name FROM locations WHERE id = ?').pluck();
    this.addressOf = db.prepare('SELECT address FROM locations WHERE id = ?').pluck();
    this.codeOf = db.prepare('SELECT code FROM blocks WHERE location_id = ? AND end - start = ? AND code IS NOT NULL ORDER BY id DESC LIMIT 1').pluck();
    this.syscallOf = syscallById(db);
    this.syscallFormat = new SyscallFormatter(db.prepare('SELECT arch FROM trace').pluck().get() as string);
    this.apiCallOf = apiCallById(db);
    this.apiFormat = new ApiFormatter(storedPrototypes(db));
  }

  resetIndent(): void {
    this.baseDepth = undefined;
  }

  heading = (text: string) => [text];

  private name(id: number): string {
    let n = this.names.get(id);
    if (n === undefined) this.names.set(id, (n = (this.nameOf.get(id) as string | undefined) ?? `location ${id}`));
    return n;
  }

  private code(locationId: number, size: number): Buffer | null {
    const k = `${locationId}:${size}`;
    let c = this.codes.get(k);
    if (c === undefined) this.codes.set(k, (c = (this.codeOf.get(locationId, size) as Buffer | undefined) ?? null));
    return c;
  }

  private syscall(id: number): string {
    const s = this.syscallOf(id);
    return s === undefined ? 'syscall (not stored)' : `syscall ${this.syscallFormat.line(s, s.memory)}`;
  }

  private apiCall(id: number): string {
    const c = this.apiCallOf(id);
    return c === undefined ? 'api    (not stored)' : `api    ${this.apiFormat.line(c)}`;
  }

  /** The lines of the event the cursor is on; empty for records replay folds into others. */
  lines(e: EventCursor): string[] {
    if (e.kind === 'compile' || e.kind === 'sysret' || e.kind === 'apiret' || e.kind === 'insn' || e.kind === 'insnopen' || e.kind === 'insnlayout' || e.kind === 'insnsync') return [];
    this.baseDepth ??= e.depth;
    const indent = '  '.repeat(Math.max(0, e.depth - this.baseDepth));
    const head = `#${String(e.seq).padEnd(8)} ${indent}`;
    switch (e.kind) {
      case 'call': return [`${head}call   ${this.name(e.locationId)} -> ${this.name(e.value)}`];
      case 'ret': return [`${head}ret    ${this.name(e.locationId)} -> ${this.name(e.value)}`];
      case 'exec': return [`${head}exec   ${this.name(e.locationId)}`];
      case 'syscall': return [`${head}${this.syscall(e.value)}`];
      case 'apicall': return [`${head}${this.apiCall(e.value)}`];
      case 'stall': return [`${head}stall  ${(e.value / 1e6).toFixed(3)} ms waiting for the ring to drain`];
      case 'block': {
        const lines = [`${head}block  ${this.name(e.locationId)} (${e.value} bytes)`];
        if (!this.disassemble) return lines;
        const code = this.code(e.locationId, e.value);
        const pad = `${' '.repeat(10)}${indent}     `;
        if (!code) return [...lines, `${pad}(no code was captured for this block)`];
        this.addressNames ??= new AddressNames(this.db);
        const names = this.addressNames;
        return [...lines, ...this.disassemble(code, this.addressOf.get(e.locationId) as number).map((l) => pad + nameBranchTarget(l, names))];
      }
    }
  }
}

function functionIds(db: TraceDb, func: string): number[] {
  const ids = db.prepare(`SELECT id FROM locations WHERE name = ? OR (name LIKE ? ESCAPE '\\' AND symbol_offset = 0)`)
    .pluck().all(func, `%!${func.replace(/[\\%_]/g, '\\$&')}`) as number[];
  if (ids.length === 0) throw new UserError(`no function named ${func} was called in this trace`);
  return ids;
}

/**
 * The activations of one function, each from its call to its return. One inside another
 * (recursion) is shown within the outer one, not again: every event is read at most once, so
 * this costs no more than replaying the whole trace.
 */
async function replayActivations(db: TraceDb, options: ReplayOptions, func: string, threads: number[], r: Lines,
  header: (tid: number) => string, out: Output, merge: InsnMerge | undefined): Promise<void> {
  const calls = functionIds(db, func)
    .flatMap((id) => [...callLists(db, id)].flatMap((l) => [...storedCalls(l.data)]))
    .filter((c) => threads.includes(c.threadId) && (options.fromSeq ?? 0) <= c.seq && c.seq <= (options.toSeq ?? Infinity))
    .sort((a, b) => a.threadId - b.threadId || a.seq - b.seq);
  let shown = 0;
  let nested = 0;
  let covered = { thread: -1, to: -1 };
  for (const call of calls) {
    if (out.closed) return;
    if (call.threadId === covered.thread && call.seq <= covered.to) {
      nested++;
      continue;
    }
    shown++;
    for (const line of r.heading(`== ${func}: activation ${shown}, ${header(call.threadId)}, from #${call.seq}`)) await out.line(line);
    r.resetIndent();
    const cursor = eventCursor(db, { thread: call.threadId, fromSeq: call.seq });
    covered = { thread: call.threadId, to: Infinity };
    let first = true;
    while (cursor.next() && !out.closed) {
      if (merge && first) merge.start(cursor);
      first = false;
      if (merge) for (const line of merge.until(call.threadId, cursor.insnSeq ?? 0)) await out.line(line);
      for (const line of r.lines(cursor)) await out.line(line);
      if (cursor.kind === 'ret' && cursor.depth <= call.depth) {
        covered.to = cursor.seq;
        break;
      }
    }
  }
  for (const line of r.heading(`== ${func}: ${shown} activation${shown === 1 ? '' : 's'}${nested > 0 ? ` (and ${nested} nested in them, shown inside)` : ''}`)) {
    await out.line(line);
  }
  return out.end();
}

export async function replay(db: TraceDb, options: ReplayOptions, out: Output): Promise<void> {
  if (options.fromSeq !== undefined && options.toSeq !== undefined && options.fromSeq > options.toSeq) {
    throw new UserError(`--from ${options.fromSeq} is after --to ${options.toSeq}: nothing lies between them`);
  }
  const threads = threadIds(db, options.thread);
  if (options.thread !== undefined && threads.length === 0) throw new UserError(`the trace has no thread ${options.thread}`);
  const arch = db.prepare('SELECT arch FROM trace').pluck().get() as string;
  const r: Lines = options.json ? new JsonLines(db) : new Renderer(db, options.disassemble ? await createDisassembler(arch) : undefined);
  const header = (tid: number) => {
    const name = threadName(db, tid);
    return `thread ${tid}${name ? ` ${quoted(name)}` : ''}`;
  };

  let merge: InsnMerge | undefined;
  if (options.regs) {
    if (!InsnLines.present(db)) throw new UserError('the trace has no instruction records: record with --events insn for --regs');
    merge = new InsnMerge(new InsnLines(db, arch as ArchName, await createDecoder(arch)));
  }
  if (options.func !== undefined) return replayActivations(db, options, options.func, threads, r, header, out, merge);

  const next = new Map<number, number>();
  for (;;) {
    let printed = false;
    for (const tid of threadIds(db, options.thread)) {
      const from = Math.max(next.get(tid) ?? 0, options.fromSeq ?? 0);
      const cursor = eventCursor(db, { thread: tid, fromSeq: from, toSeq: options.toSeq });
      let first = true;
      while (cursor.next() && !out.closed) {
        if (first && !next.has(tid)) {
          r.resetIndent();
          for (const line of r.heading(header(tid))) await out.line(line);
          if (merge && options.fromSeq !== undefined) merge.start(cursor);
        }
        first = false;
        printed = true;
        if (merge) for (const line of merge.until(tid, cursor.insnSeq ?? 0)) await out.line(line);
        for (const line of r.lines(cursor)) await out.line(line);
        next.set(tid, cursor.seq + 1);
      }
      // The instructions after the thread's last event, unless the window ends before them.
      if (merge && options.toSeq === undefined && !out.closed) for (const line of merge.until(tid, Infinity)) await out.line(line);
    }
    await out.flush();
    const ended = db.prepare('SELECT end_reason IS NOT NULL FROM trace').pluck().get() === 1;
    if (!options.follow || out.closed || (ended && !printed)) return out.end();
    if (!printed) await sleep(250);
  }
}
