import { randomBytes } from 'node:crypto';
import { CaptureWriter } from '../../host/capture/writer.js';
import { writeChunkHeader } from '../../host/capture/chunks.js';
import { recordSlots, writeRecord } from '../../host/capture/ring-records.js';
import { writeMemory } from '../../host/capture/memory-reads.js';
import { ApicallFlag, InsnSyncReason, InsnWhat, MAX_PAYLOAD_BYTES, MemoryFlag, Kind, Payload, RingRecord, SLOT_SIZE, SYSCALL_ARGS } from '../../host/schema/layout.generated.js';
import { writeInsnLayout, writeInsnValues, type InsnEntry, type InsnValueSpec } from '../../host/capture/insn-records.js';
import { registerSet, type RegisterSet } from '../../host/model/registers.js';
import type { ApiSpec, CallSpec, FunctionSpec, InsnLayoutSpec, InsnStep, MemorySpec, ModuleSpec, Scenario, SyscallSpec } from './scenario.js';

const hex = (n: number) => `0x${n.toString(16)}`;
const NOPS = new Array<number>(16).fill(0x90);

interface ThreadCursor {
  seq: number;
  lost: number;
  compiled: Set<number>;
}

/** A scenario's instruction layout as its records carry it. */
interface EncodedLayout {
  spec: InsnLayoutSpec;
  payload: Buffer;
  entries: InsnEntry[];
  valuesSize: number;
}

function encodeLayout(spec: InsnLayoutSpec, registers: RegisterSet): EncodedLayout {
  const entries = spec.entries.map((e) => {
    const reg = e.reg === undefined ? 0 : registers.ids.get(e.reg);
    if (reg === undefined) throw new Error(`scenario layout ${spec.id} names register ${e.reg}, which the arch does not have`);
    const what = e.reg !== undefined ? InsnWhat.reg : e.read !== undefined ? InsnWhat.memRead : InsnWhat.memWrite;
    return { insn: e.insn, what, reg, unrecorded: e.unrecorded ?? false, bytes: e.reg !== undefined ? registers.sizes[reg] : (e.read ?? e.write)! };
  });
  return { spec, ...writeInsnLayout(spec.code.map((c) => c.length), entries) };
}

/** A scenario's values of one execution, as writeInsnValues takes them. */
function insnValues(values: Extract<InsnStep, { run: number }>['values']): InsnValueSpec[] {
  return values.map((v) => typeof v === 'number' || typeof v === 'bigint' ? BigInt(v) : Array.isArray(v) ? Buffer.from(v)
    : { address: v.address, ...(v.bytes ? { data: Buffer.from(v.bytes) } : {}) });
}

/** x86_64 `call rel32`: the return address is the call site plus this. */
const CALL_LENGTH = 5;
/** Each thread's stack, as its calls' stack pointers say: one frame per nesting level, this far apart. */
const STACK_TOP = 0x7ffffff00000;
const FRAME_BYTES = 0x100;

/** A call's payload: the stack pointer at the call, and the call instruction's length. */
function callPayload(depth: number): Buffer {
  const p = Buffer.alloc(Payload.call.length + 1);
  p.writeBigUInt64LE(BigInt(STACK_TOP - depth * FRAME_BYTES), Payload.call.sp);
  p.writeUInt8(CALL_LENGTH, Payload.call.length);
  return p;
}

interface Resolved {
  module: ModuleSpec;
  fn: FunctionSpec;
  entry: number;
}

/** A memory reads block holding what `memory` says was read. */
function memoryReads(memory: MemorySpec[]): Buffer {
  return writeMemory(memory.map((m) => {
    let data = m.text === undefined ? Buffer.from(m.bytes ?? []) : Buffer.from(m.text, 'utf8');
    if (m.wide) data = Buffer.concat([...(m.text ?? '')].map((ch) => { const b = Buffer.alloc(4); b.writeUInt32LE(ch.codePointAt(0)!); return b; }));
    if (m.unreadable) data = Buffer.alloc(0);
    const flags = (m.text === undefined ? MemoryFlag.bytes : 0) | (m.wide ? MemoryFlag.utf32 : 0) |
      (m.truncated ? MemoryFlag.truncated : 0) | (m.unreadable ? MemoryFlag.unreadable : 0);
    return { arg: m.arg, flags, data };
  }));
}

/** Writes 64-bit values (signed ones as two's complement) one after the other from `at`. */
const u64s = (p: Buffer, at: number, values: number[]) => values.forEach((v, i) => p.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), at + i * 8));

/** A record payload whose memory reads start at `memoryAt`, the fields before them written by `fill`. */
function payload(memoryAt: number, memory: MemorySpec[], fill: (p: Buffer) => void): Buffer {
  const reads = memoryReads(memory);
  const p = Buffer.alloc(memoryAt + reads.length);
  fill(p);
  reads.copy(p, memoryAt);
  return p;
}

/** Groups foldLoops looks for: up to this many records, starting with one of control flow (as the drain's). */
const FOLD_GROUP_RECORDS = 8;
const FOLD_STARTS = new Set<number>([Kind.call, Kind.ret, Kind.exec, Kind.block]);

/**
 * A chunk's records with each group that repeats right after itself written once, followed by a
 * repeat record (records.json kind repeat), as the drain writes them; the records themselves
 * where nothing repeats. Greedy, smallest group first: the drain's own choices differ, and
 * readers must take any.
 */
function foldLoops(records: Buffer): Buffer {
  const starts: number[] = [];
  for (let at = 0; at < records.length; at += SLOT_SIZE * (1 + records[at + RingRecord.aux])) starts.push(at);
  starts.push(records.length);
  const n = starts.length - 1;
  const group = (i: number, size: number) => records.subarray(starts[i], starts[i + size]);
  const out: Buffer[] = [];
  let folded = false;
  for (let i = 0; i < n;) {
    let size = 0;
    for (let g = 1; g <= FOLD_GROUP_RECORDS && i + 2 * g <= n && FOLD_STARTS.has(records[starts[i] + RingRecord.kind]); g++) {
      if (group(i, g).equals(group(i + g, g))) {
        size = g;
        break;
      }
    }
    if (size === 0) {
      out.push(group(i, 1));
      i++;
      continue;
    }
    let times = 1;
    while (i + (times + 2) * size <= n && group(i, size).equals(group(i + (times + 1) * size, size))) times++;
    const repeat = Buffer.alloc(SLOT_SIZE);
    writeRecord(new DataView(repeat.buffer), 0, Kind.repeat, (starts[i + size] - starts[i]) / SLOT_SIZE, times);
    out.push(group(i, size), repeat);
    folded = true;
    i += (times + 1) * size;
  }
  return folded ? Buffer.concat(out) : records;
}

/** Writes ring records into chunks and chunks into events frames, as the agent sends them. */
class ChunkWriter {
  private slots: DataView;
  private used = 0;
  private records = 0;
  private pending: Buffer[] = [];
  private tid = 0;
  private cursor!: ThreadCursor;

  constructor(private readonly capture: CaptureWriter, private readonly chunkRecords: number, private readonly chunksPerFrame: number,
    private readonly foldLoops: boolean) {
    // Room for a whole chunk of one-slot records, and for the largest record on top.
    this.slots = new DataView(new ArrayBuffer(chunkRecords * SLOT_SIZE + SLOT_SIZE + MAX_PAYLOAD_BYTES));
  }

  begin(tid: number, cursor: ThreadCursor): void {
    this.tid = tid;
    this.cursor = cursor;
  }

  record(kind: number, location: number, target: number, payload?: Buffer): void {
    if ((this.used + recordSlots(payload?.length ?? 0)) * SLOT_SIZE > this.slots.byteLength) this.endChunk(false);
    this.used += writeRecord(this.slots, this.used * SLOT_SIZE, kind, location, target, payload);
    this.records++;
    if (this.records >= this.chunkRecords) this.endChunk(false);
  }

  endChunk(threadEnded: boolean): void {
    if (this.records === 0 && !threadEnded) return;
    const written = Buffer.from(this.slots.buffer.slice(0, this.used * SLOT_SIZE));
    const body = this.foldLoops ? foldLoops(written) : written;
    const header = writeChunkHeader({
      threadId: this.tid, firstSeq: this.cursor.seq, recordCount: this.records, slotCount: body.length / SLOT_SIZE, lost: this.cursor.lost,
      timestampNs: this.cursor.seq * 10, threadEnded, repeats: body !== written,
    });
    this.pending.push(header, body);
    this.cursor.seq += this.records;
    this.used = 0;
    this.records = 0;
    if (this.pending.length >= this.chunksPerFrame * 2) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.capture.appendEvents(Buffer.concat(this.pending));
    this.pending = [];
  }
}

/** Writes `scenario` as a capture file at `path`. Memory stays flat however many events it describes. */
export function generateCapture(path: string, scenario: Scenario, captureId = randomBytes(16).toString('hex')): void {
  const arch = scenario.arch ?? 'x64';
  const capture = CaptureWriter.create(path, { arch, pointerSize: 8, captureId });
  const events = [...(scenario.events ?? ['call', 'ret', 'syscall']), ...(scenario.prototypes ? ['api'] : [])];
  const blocks = events.includes('block');
  capture.appendMeta({
    type: 'trace', target: scenario.target ?? 'demo', pid: scenario.pid ?? 4242, device: 'local', arch, pointerSize: 8,
    platform: 'linux', fridaVersion: '17.0.0', options: { events, generatedBy: 'test/scenario' }, startedAt: '2026-01-01T00:00:00.000Z',
  });
  if (scenario.prototypes) capture.appendMeta({ type: 'apis', prototypes: scenario.prototypes });
  const writer = new ChunkWriter(capture, scenario.chunkRecords ?? 4096, scenario.chunksPerFrame ?? 8, scenario.foldLoops ?? false);
  const registers = registerSet(arch);
  const layouts = new Map((scenario.insnLayouts ?? []).map((l) => [l.id, encodeLayout(l, registers)]));
  const described = new Set<number>();
  const loaded = new Map<string, ModuleSpec>();
  const threads = new Map<number, ThreadCursor>();
  let running = false;

  const resolve = (spec: string): Resolved => {
    const [moduleName, fnName] = spec.split('!');
    const module = loaded.get(moduleName);
    const fn = module?.functions.find((f) => f.name === fnName);
    if (!module || !fn) throw new Error(`scenario names ${spec}, which is not loaded`);
    return { module, fn, entry: module.base + fn.offset };
  };

  // Syscalls are made in the order the description writes them, a microsecond apart.
  let clockNs = 0;
  const syscall = (s: SyscallSpec, site: number) => {
    const memory = s.memory ?? [];
    for (let i = 0; i < (s.count ?? 1); i++) {
      const args = Array.from({ length: SYSCALL_ARGS }, (_, n) => s.args?.[n] ?? 0);
      clockNs += 1000;
      writer.record(Kind.syscall, site, s.nr, payload(Payload.syscall.memory, memory.filter((m) => !m.atReturn), (p) => {
        u64s(p, Payload.syscall.args, args);
        u64s(p, Payload.syscall.timeNs, [clockNs]);
      }));
      if (s.ret === undefined) continue;
      writer.record(Kind.sysret, site, s.nr, payload(Payload.sysret.memory, memory.filter((m) => m.atReturn), (p) => u64s(p, Payload.sysret.ret, [s.ret!])));
    }
  };

  // --apis: the library call's records, at the callee's entry and back at the return address.
  const apiCall = (a: ApiSpec, entry: number, returnAddress: number) => {
    const args = a.args ?? [];
    writer.record(Kind.apicall, entry, returnAddress, payload(Payload.apicall.args + args.length * 8, (a.memory ?? []).filter((m) => !m.atReturn), (p) => {
      p.writeUInt32LE(args.length, Payload.apicall.argc);
      p.writeUInt32LE(a.untracked ? ApicallFlag.untracked : 0, Payload.apicall.flags);
      u64s(p, Payload.apicall.args, args);
    }));
  };
  const apiReturn = (a: ApiSpec, entry: number, returnAddress: number) => {
    if (a.untracked || a.ret === undefined) return;
    writer.record(Kind.apiret, returnAddress, entry, payload(Payload.apiret.memory, (a.memory ?? []).filter((m) => m.atReturn), (p) => u64s(p, Payload.apiret.ret, [a.ret!])));
  };

  // The call site of child i within its caller, and the caller of a thread's outermost calls.
  const callSite = (callerEntry: number, i: number) => callerEntry + 0x10 + i * 8;

  /** `depth`: how many frames are open below the call, which decides its stack pointer. */
  const run = (call: CallSpec, siteOf: number, cursor: ThreadCursor, depth: number) => {
    const callee = resolve(call.fn);
    for (let n = 0; n < (call.count ?? 1); n++) {
      writer.record(Kind.call, siteOf, callee.entry, callPayload(depth));
      if (call.api) apiCall(call.api, callee.entry, siteOf + CALL_LENGTH);
      if (blocks) {
        for (let b = 0; b < (call.blocks ?? 1); b++) {
          const start = callee.entry + b * 16;
          const code = Buffer.from(callee.fn.code ?? NOPS);
          if (scenario.captureCode !== false && !cursor.compiled.has(start)) {
            cursor.compiled.add(start);
            writer.record(Kind.compile, start, start + code.length, code);
          }
          writer.record(Kind.block, start, start + code.length);
        }
      }
      for (const s of call.syscalls ?? []) syscall(s, callee.entry + 0x20);
      (call.children ?? []).forEach((child, i) => run(child, callSite(callee.entry, i), cursor, depth + 1));
      if (call.noReturn) return;
      writer.record(Kind.ret, callee.entry + callee.fn.size - 1, siteOf + CALL_LENGTH);
      if (call.api) apiReturn(call.api, callee.entry, siteOf + CALL_LENGTH);
    }
  };

  // --events insn: a run's code and layout go before its first execution, as the transformer writes them.
  const insnStep = (st: InsnStep, cursor: ThreadCursor) => {
    if ('sync' in st) {
      const p = Buffer.alloc(registers.sync.length * 8);
      registers.sync.forEach((id, i) => p.writeBigUInt64LE(BigInt.asUintN(64, BigInt(st.sync[registers.names[id]!] ?? 0)), i * 8));
      writer.record(Kind.insnsync, st.at, InsnSyncReason[st.reason ?? 'start'], p);
    } else if ('syscall' in st) {
      syscall(st.syscall, st.at);
    } else {
      const layout = layouts.get(st.run);
      if (!layout) throw new Error(`scenario runs layout ${st.run}, which it does not describe`);
      const { address, code } = layout.spec;
      if (!cursor.compiled.has(address)) {
        cursor.compiled.add(address);
        const bytes = Buffer.from(code.flat());
        writer.record(Kind.compile, address, address + bytes.length, bytes);
      }
      if (!described.has(st.run) && !layout.spec.undescribed) {
        described.add(st.run);
        writer.record(Kind.insnlayout, address, st.run, layout.payload);
      }
      writer.record(Kind.insn, address, st.run, writeInsnValues(layout.entries, layout.valuesSize, insnValues(st.values)));
    }
  };

  for (const step of scenario.steps) {
    if ('load' in step) {
      loaded.set(step.load.name, step.load);
      capture.appendMeta({
        type: 'module-load', name: step.load.name, path: step.load.path ?? `/opt/demo/${step.load.name}`, base: hex(step.load.base),
        size: step.load.size, symbols: step.load.functions.filter((f) => !f.unreported).map((f) => [f.offset, f.size, f.name]), ...(running ? { loadedLater: true } : {}),
        ...(step.load.buildId ? { buildId: step.load.buildId } : {}),
      });
    } else if ('unload' in step) {
      const module = loaded.get(step.unload)!;
      loaded.delete(step.unload);
      capture.appendMeta({ type: 'module-unload', base: hex(module.base) });
    } else {
      running = true;
      let cursor = threads.get(step.thread);
      if (!cursor) {
        threads.set(step.thread, (cursor = { seq: 0, lost: 0, compiled: new Set() }));
        capture.appendMeta({ type: 'thread', tid: step.thread, ...(step.name ? { name: step.name } : {}) });
      }
      cursor.lost += step.lost ?? 0;
      writer.begin(step.thread, cursor);
      if (step.stallNs) writer.record(Kind.stall, 0, step.stallNs);
      const root = [...loaded.values()][0];
      (step.calls ?? []).forEach((call, i) => run(call, callSite(root.base, i), cursor, 0));
      for (const st of step.insns ?? []) insnStep(st, cursor);
      writer.endChunk(step.ends ?? false);
      writer.flush();
    }
  }
  if (scenario.end !== null) {
    const end = scenario.end ?? { reason: 'exited' as const };
    capture.appendMeta({ type: 'end', reason: end.reason, ...(end.detail ? { detail: end.detail } : {}), endedAt: '2026-01-01T00:00:01.500Z' });
  }
  capture.close();
}
