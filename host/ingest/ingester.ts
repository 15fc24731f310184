import type { Statement } from 'better-sqlite3';
import {
  ApicallFlag, FrameHeader, Kind, KIND_NAMES, Payload, StoredCall, StoredEvent, type ApisMessage, type EndMessage, type TraceMessage,
} from '../schema/layout.generated.js';
import { callsCarryStackPointer, type CaptureInfo } from '../capture/version.js';
import type { CaptureFrame } from '../capture/reader.js';
import { parseMeta } from '../capture/meta.js';
import type { TraceDb } from '../store/database.js';
import { CallStacks } from '../model/call-stacks.js';
import { readMemory, type MemoryRead } from './memory-reads.js';
import { valueOf, type ArgType } from '../symbols/arg-types.js';
import { prototypeFromEntry, storedPrototypes, type Prototype } from '../symbols/prototypes.js';
import { chunksOf, ChunkError, type Chunk } from '../capture/chunks.js';
import { FrameDamage } from './frame-damage.js';
import { Locations } from './locations.js';
import { ModuleRegistry } from './modules.js';

export type CostUnit = 'instructions' | 'blocks' | 'calls';

/** Which record kind a cost unit counts. */
const COST_KIND: Record<CostUnit, number> = { instructions: Kind.exec, blocks: Kind.block, calls: Kind.call };

const TWO_32 = 4294967296;
const MAX_COMPILE_BYTES = 255 * 16;

interface ThreadState {
  tid: number;
  name: string | null;
  firstSeen: number | null;
  lastSeen: number | null;
  nextSeq: number;
  /** Running count of the trace's cost unit on this thread. */
  cost: number;
  lost: number;
  ended: boolean;
  // Deltas since the last flush:
  events: number;
  missing: number;
  stallNs: number;
  kinds: Float64Array;
  stacks: CallStacks;
  openSyscalls: { id: number; nr: number }[];
  /** --apis: library calls whose return may still come, innermost last. */
  openApis: OpenApi[];
}

interface OpenApi {
  id: number;
  functionAddress: number;
  returnAddress: number;
  /** The result's type, where the function has a prototype. */
  ret: ArgType | null;
}

/** A callee's calls not yet written to call_lists. */
interface CallList {
  data: Buffer;
  count: number;
}

/** A call list is written as one row when it reaches this size, or when all pending lists together reach PENDING_CALL_BYTES. */
const CALL_LIST_BYTES = 64 << 10;
const PENDING_CALL_BYTES = 16 << 20;

interface BlockState {
  id: number;
  code: Buffer | null;
  executions: number;
}

export interface IngestWarning {
  (message: string): void;
}

/**
 * Turns capture frames into the trace store: resolves addresses, keeps per-thread call stacks,
 * counts, and writes events compactly. Everything since the last commit is one transaction
 * together with the capture offset it reached, so a rerun resumes exactly where this one stopped.
 */
export class Ingester {
  private readonly modules: ModuleRegistry;
  private readonly locations: Locations;
  private readonly threads = new Map<number, ThreadState>();
  private readonly blocks = new Map<number, BlockState>();
  private readonly callLists = new Map<number, CallList>();
  private pendingCallBytes = 0;
  private scratch = Buffer.allocUnsafeSlow(1 << 16);
  private costKind: number = Kind.call;
  private hasTrace: boolean;
  private nextChunkId: number;
  private nextSyscallId: number;
  private nextBlockId: number;
  private nextApiCallId: number;
  private nextApiFunctionId: number;
  /** api_functions ids by the function's location id. */
  private readonly apiFunctions = new Map<number, number>();
  /** The recording's prototypes: they name a library function whose address has several, and type its values. */
  private readonly prototypes: Map<string, Prototype>;
  /** The prototype of each api_functions id, or null. */
  private readonly functionPrototypes = new Map<number, Prototype | null>();
  /** Capture offset of everything stored once the open transaction commits. */
  position: number;
  /** Events stored by this ingester, for progress displays. */
  storedEvents = 0;
  private readonly sql: Record<string, Statement>;
  /** Capture format 3 on: calls carry their stack pointer and length, syscalls their time. */
  private readonly callPayloads: boolean;

  constructor(private readonly db: TraceDb, private readonly capture: CaptureInfo, private readonly warn: IngestWarning) {
    this.callPayloads = callsCarryStackPointer(capture);
    const trace = db.prepare('SELECT capture_id, cost_unit, ingested_bytes FROM trace').get() as
      { capture_id: string; cost_unit: CostUnit; ingested_bytes: number } | undefined;
    this.hasTrace = trace !== undefined;
    this.position = trace?.ingested_bytes ?? 0;
    if (trace) this.costKind = COST_KIND[trace.cost_unit];
    const nextId = (table: string) => db.prepare(`SELECT coalesce(max(id), 0) + 1 FROM ${table}`).pluck().get() as number;
    this.nextChunkId = nextId('event_chunks');
    this.nextSyscallId = nextId('syscalls');
    this.nextBlockId = nextId('blocks');
    this.nextApiCallId = nextId('api_calls');
    this.nextApiFunctionId = nextId('api_functions');
    this.sql = {
      insertTrace: db.prepare(`INSERT INTO trace (id, capture_id, target, pid, device, arch, pointer_size, platform, frida_version,
        options, started_at, cost_unit) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      endTrace: db.prepare('UPDATE trace SET ended_at = ?, end_reason = ?, end_detail = ?'),
      progress: db.prepare('UPDATE trace SET ingested_bytes = ?'),
      insertChunk: db.prepare('INSERT INTO event_chunks (id, thread_id, first_seq, count, timestamp_ns, data) VALUES (?, ?, ?, ?, ?, ?)'),
      insertCallList: db.prepare('INSERT INTO call_lists (callee_id, count, data) VALUES (?, ?, ?)'),
      insertSyscall: db.prepare(`INSERT INTO syscalls (id, thread_id, seq, location_id, nr, arg0, arg1, arg2, arg3, arg4, arg5, time_ns)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      returnSyscall: db.prepare('UPDATE syscalls SET ret = ?, ret_seq = ? WHERE id = ?'),
      insertSyscallMemory: db.prepare(`INSERT INTO syscall_memory (syscall_id, position, at_return, text, data, truncated, unreadable)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
      insertPrototype: db.prepare('INSERT OR REPLACE INTO api_prototypes (name, ret_type, arg_types) VALUES (?, ?, ?)'),
      insertApiFunction: db.prepare('INSERT INTO api_functions (id, location_id, module, name) VALUES (?, ?, ?, ?)'),
      insertApiCall: db.prepare(`INSERT INTO api_calls (id, thread_id, seq, function_id, return_id, argc, untracked)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
      insertApiArg: db.prepare('INSERT INTO api_args (call_id, position, value) VALUES (?, ?, ?)'),
      insertApiMemory: db.prepare(`INSERT INTO api_memory (call_id, position, at_return, text, data, truncated, unreadable)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
      returnApi: db.prepare('UPDATE api_calls SET ret = ?, ret_seq = ? WHERE id = ?'),
      insertBlock: db.prepare('INSERT INTO blocks (id, location_id, start, end, code) VALUES (?, ?, ?, ?, ?)'),
      setBlockCode: db.prepare('UPDATE blocks SET code = ? WHERE id = ?'),
      addExecutions: db.prepare('UPDATE blocks SET executions = executions + ? WHERE id = ?'),
      upsertThread: db.prepare(`INSERT INTO threads (id, name, first_seen_ns, last_seen_ns, events, lost, missing, stall_ns, ended)
        VALUES (@tid, @name, @firstSeen, @lastSeen, @events, @lost, @missing, @stallNs, @ended)
        ON CONFLICT (id) DO UPDATE SET name = coalesce(excluded.name, name),
          first_seen_ns = coalesce(first_seen_ns, excluded.first_seen_ns),
          last_seen_ns = coalesce(excluded.last_seen_ns, last_seen_ns),
          events = events + excluded.events, lost = max(lost, excluded.lost), missing = missing + excluded.missing,
          stall_ns = stall_ns + excluded.stall_ns, ended = max(ended, excluded.ended)`),
      addKind: db.prepare(`INSERT INTO kind_counts (thread_id, kind, count) VALUES (?, ?, ?)
        ON CONFLICT DO UPDATE SET count = count + excluded.count`),
      addFunction: db.prepare(`INSERT INTO function_stats (thread_id, function_id, calls, self_cost, total_cost) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT DO UPDATE SET calls = calls + excluded.calls, self_cost = self_cost + excluded.self_cost,
          total_cost = total_cost + excluded.total_cost`),
      addEdge: db.prepare(`INSERT INTO call_edges (thread_id, caller_id, callee_id, calls, total_cost) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT DO UPDATE SET calls = calls + excluded.calls, total_cost = total_cost + excluded.total_cost`),
      clearFrames: db.prepare('DELETE FROM open_frames'),
      saveFrame: db.prepare(`INSERT INTO open_frames (thread_id, position, function_id, caller_id, return_address, sp, entry_cost, child_cost)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    };
    this.prototypes = storedPrototypes(db);
    this.modules = new ModuleRegistry(db);
    this.locations = new Locations(db, this.modules.map);
    this.restore();
    db.exec('BEGIN');
  }

  /** Reloads what an earlier ingest of this trace left: threads, open frames, syscalls, blocks. */
  private restore(): void {
    const db = this.db;
    const costKindName = KIND_NAMES[this.costKind];
    for (const t of db.prepare(`SELECT t.id, t.name, t.first_seen_ns, t.last_seen_ns, t.lost, t.ended,
        (SELECT coalesce(max(first_seq + count), 0) FROM event_chunks WHERE thread_id = t.id) AS next_seq,
        (SELECT coalesce(sum(count), 0) FROM kind_counts WHERE thread_id = t.id AND kind = ?) AS cost
        FROM threads t`).all(costKindName) as Record<string, number & string>[]) {
      const state = this.thread(t.id);
      Object.assign(state, { name: t.name, firstSeen: t.first_seen_ns, lastSeen: t.last_seen_ns, lost: t.lost, ended: !!t.ended, nextSeq: t.next_seq, cost: t.cost });
    }
    for (const f of db.prepare('SELECT * FROM open_frames ORDER BY thread_id, position').all() as Record<string, number>[]) {
      this.thread(f.thread_id).stacks.restore({ functionId: f.function_id, callerId: f.caller_id, returnAddress: f.return_address, sp: f.sp, entryCost: f.entry_cost, childCost: f.child_cost });
    }
    for (const s of db.prepare('SELECT id, thread_id, nr FROM syscalls WHERE ret IS NULL ORDER BY seq').all() as Record<string, number>[]) {
      this.thread(s.thread_id).openSyscalls.push({ id: s.id, nr: s.nr });
    }
    for (const f of db.prepare('SELECT id, location_id, name FROM api_functions').all() as { id: number; location_id: number; name: string }[]) {
      this.apiFunctions.set(f.location_id, f.id);
      this.functionPrototypes.set(f.id, this.prototypes.get(f.name) ?? null);
    }
    for (const c of db.prepare(`SELECT c.id, c.thread_id, c.function_id, fl.address AS fn, r.address AS ret FROM api_calls c
        JOIN api_functions f ON f.id = c.function_id JOIN locations fl ON fl.id = f.location_id JOIN locations r ON r.id = c.return_id
        WHERE c.ret_seq IS NULL AND c.untracked = 0 ORDER BY c.seq`).all() as Record<string, number>[]) {
      const ret = this.functionPrototypes.get(c.function_id)?.ret ?? null;
      this.thread(c.thread_id).openApis.push({ id: c.id, functionAddress: c.fn, returnAddress: c.ret, ret });
    }
    for (const b of db.prepare('SELECT id, location_id, end - start AS size, code FROM blocks ORDER BY id').all() as { id: number; location_id: number; size: number; code: Buffer | null }[]) {
      this.blocks.set(b.location_id * 65536 + b.size, { id: b.id, code: b.code, executions: 0 });
    }
  }

  private thread(tid: number): ThreadState {
    let t = this.threads.get(tid);
    if (!t) {
      t = {
        tid, name: null, firstSeen: null, lastSeen: null, nextSeq: 0, cost: 0, lost: 0, ended: false,
        events: 0, missing: 0, stallNs: 0, kinds: new Float64Array(256), stacks: new CallStacks(), openSyscalls: [], openApis: [],
      };
      this.threads.set(tid, t);
    }
    return t;
  }

  /** Stores one frame; `frame.end` becomes the resume point at the next commit. */
  frame(frame: CaptureFrame): void {
    if (frame.type === 'meta') this.meta(frame);
    else this.events(frame);
    this.position = frame.end;
  }

  private corrupt(frame: CaptureFrame, offsetInPayload: number, reason: string): FrameDamage {
    return new FrameDamage(frame.offset, frame.offset + FrameHeader.size + offsetInPayload, reason);
  }

  private meta(frame: CaptureFrame): void {
    const message = parseMeta(frame.payload);
    if (typeof message === 'string') throw this.corrupt(frame, 0, message);
    if (message.type !== 'trace' && !this.hasTrace) throw this.corrupt(frame, 0, 'the capture does not start with a trace frame');
    switch (message.type) {
      case 'trace': return this.startTrace(message);
      case 'apis': return this.addPrototypes(message);
      case 'module-load': this.locations.claim(this.modules.load(message)); return;
      case 'module-unload': return this.modules.unload(message.base);
      case 'thread': this.thread(message.tid).name = message.name ?? null; return;
      case 'end': return this.endTrace(message);
    }
  }

  private startTrace(m: TraceMessage): void {
    if (this.hasTrace) return;
    const events = Array.isArray(m.options.events) ? m.options.events : [];
    const unit: CostUnit = events.includes('exec') ? 'instructions' : events.includes('block') ? 'blocks' : 'calls';
    this.costKind = COST_KIND[unit];
    this.sql.insertTrace.run(this.capture.captureId, m.target, m.pid, m.device, m.arch, m.pointerSize, m.platform,
      m.fridaVersion ?? null, JSON.stringify(m.options), m.startedAt, unit);
    this.hasTrace = true;
  }

  private addPrototypes(m: ApisMessage): void {
    for (const entry of m.prototypes) {
      const [ret, name, args] = entry;
      this.sql.insertPrototype.run(name, ret, JSON.stringify(args));
      this.prototypes.set(name, prototypeFromEntry(entry));
    }
  }

  /** The recording ended in order: frames still open end here, at the last cost seen. */
  private endTrace(m: EndMessage): void {
    this.sql.endTrace.run(m.endedAt, m.reason, m.detail ?? null);
    for (const t of this.threads.values()) t.stacks.closeAll(t.cost);
  }

  private events(frame: CaptureFrame): void {
    if (!this.hasTrace) throw this.corrupt(frame, 0, 'events before the trace frame');
    try {
      for (const chunk of chunksOf(frame.payload)) this.chunk(chunk);
    } catch (e) {
      if (e instanceof ChunkError) throw this.corrupt(frame, e.offset, e.message);
      throw e;
    }
  }

  private chunk(chunk: Chunk): void {
    const t = this.thread(chunk.threadId);
    t.lost = Math.max(t.lost, chunk.lost);
    if (chunk.recordCount > 0) this.records(t, chunk);
    if (chunk.threadEnded) {
      t.ended = true;
      t.stacks.closeAll(t.cost);
    }
  }

  private records(t: ThreadState, chunk: Chunk): void {
    if (chunk.firstSeq + chunk.recordCount <= t.nextSeq) return; // sent twice: already stored
    if (chunk.firstSeq < t.nextSeq) throw new ChunkError(`thread ${t.tid} chunk overlaps events already stored`, 0);
    if (chunk.firstSeq > t.nextSeq) {
      const gap = chunk.firstSeq - t.nextSeq;
      t.missing += gap;
      this.warn(`thread ${t.tid}: ${gap} events missing before sequence ${chunk.firstSeq}`);
    }
    t.firstSeen ??= chunk.timestampNs;
    t.lastSeen = chunk.timestampNs;

    const chunkId = this.nextChunkId++;
    // One scratch buffer for every chunk: SQLite copies a blob when it is bound.
    const bytes = chunk.recordCount * StoredEvent.size;
    if (this.scratch.length < bytes) this.scratch = Buffer.allocUnsafeSlow(Math.max(bytes, this.scratch.length * 2));
    const out = this.scratch.subarray(0, bytes);
    const o = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const v = chunk.records;
    const locations = this.locations;
    const stacks = t.stacks;
    const kinds = t.kinds;
    const costKind = this.costKind;
    let seq = chunk.firstSeq;
    let at = 0;
    let w = 0;
    const end = chunk.slotCount * 16;
    while (at < end) {
      const address = v.getUint16(at + 4, true) * TWO_32 + v.getUint32(at, true);
      const kind = v.getUint8(at + 6);
      const aux = v.getUint8(at + 7);
      // Before capture format 3 a call had no payload, and aux was its instruction's length.
      const extra = kind === Kind.call && !this.callPayloads ? 0 : aux;
      const payloadEnd = at + (1 + extra) * 16;
      const target = v.getUint16(at + 12, true) * TWO_32 + v.getUint32(at + 8, true);
      let depth = stacks.depth;
      if (at + (1 + extra) * 16 > end) throw new ChunkError(`record at slot ${at / 16} overruns its chunk`, 0);
      if (w === out.length) throw new ChunkError('chunk holds more records than its header says', 0);
      const locationId = locations.id(address);
      let value = 0;
      // A call first closes what it shows was unwound, so its own cost is not theirs.
      const sp = kind === Kind.call && this.callPayloads ? v.getUint32(at + 16 + Payload.call.sp + 4, true) * TWO_32 + v.getUint32(at + 16 + Payload.call.sp, true) : null;
      if (sp !== null) stacks.unwind(sp, t.cost);
      if (kind === costKind) t.cost++;
      switch (kind) {
        case Kind.call: {
          value = locations.calleeId(target);
          const length = this.callPayloads ? v.getUint8(at + 16 + Payload.call.length) : aux;
          depth = stacks.call(value, address + length, sp, t.cost);
          this.listCall(value, t.tid, locationId, seq, depth);
          break;
        }
        case Kind.ret:
          value = locations.id(target);
          depth = stacks.ret(target, t.cost);
          break;
        case Kind.exec:
          break;
        case Kind.block:
          value = target - address;
          this.block(locationId, address, target).executions++;
          break;
        case Kind.compile:
          value = target - address;
          this.compile(locationId, address, target, v, at + 16);
          break;
        case Kind.syscall:
          value = this.syscall(t, seq, locationId, target, v, at + 16, payloadEnd);
          break;
        case Kind.sysret:
          value = this.sysret(t, seq, target, v, at + 16, payloadEnd);
          break;
        case Kind.apicall:
          value = this.apicall(t, seq, address, locationId, target, v, at + 16, payloadEnd);
          break;
        case Kind.apiret:
          value = this.apiret(t, seq, address, target, v, at + 16, payloadEnd);
          break;
        case Kind.stall:
          value = target;
          t.stallNs += target;
          break;
        default:
          throw new ChunkError(`unknown record kind ${kind} at slot ${at / 16}`, 0);
      }
      kinds[kind]++;
      o.setUint8(w, kind);
      o.setUint8(w + 1, 0);
      o.setInt16(w + 2, depth, true);
      o.setUint32(w + 4, locationId, true);
      o.setUint32(w + 8, value % TWO_32, true);
      o.setUint32(w + 12, Math.floor(value / TWO_32), true);
      w += StoredEvent.size;
      at += (1 + extra) * 16;
      seq++;
    }
    if (w !== out.length) throw new ChunkError('chunk holds fewer records than its header says', 0);
    this.sql.insertChunk.run(chunkId, t.tid, chunk.firstSeq, chunk.recordCount, chunk.timestampNs, out);
    t.events += chunk.recordCount;
    this.storedEvents += chunk.recordCount;
    t.nextSeq = seq;
  }

  private listCall(calleeId: number, tid: number, siteId: number, seq: number, depth: number): void {
    let list = this.callLists.get(calleeId);
    if (!list) {
      this.callLists.set(calleeId, (list = { data: Buffer.allocUnsafe(256), count: 0 }));
      this.pendingCallBytes += 256;
    }
    let at = list.count * StoredCall.size;
    if (at === list.data.length) {
      const grown = Buffer.allocUnsafe(at * 2);
      list.data.copy(grown);
      this.pendingCallBytes += at;
      list.data = grown;
    }
    const d = list.data;
    d.writeUInt32LE(tid, at + StoredCall.threadId);
    d.writeUInt32LE(siteId, at + StoredCall.siteId);
    d.writeUIntLE(seq, at + StoredCall.seq, 6);
    d.writeInt16LE(depth, at + StoredCall.depth);
    list.count++;
    at += StoredCall.size;
    if (at >= CALL_LIST_BYTES) {
      // A hot callee: its full buffer is written and used again.
      this.sql.insertCallList.run(calleeId, list.count, list.data.subarray(0, at));
      list.count = 0;
    }
    else if (this.pendingCallBytes >= PENDING_CALL_BYTES) this.flushCallLists();
  }

  private flushCallList(calleeId: number, list: CallList): void {
    this.sql.insertCallList.run(calleeId, list.count, list.data.subarray(0, list.count * StoredCall.size));
    this.pendingCallBytes -= list.data.length;
    this.callLists.delete(calleeId);
  }

  private flushCallLists(): void {
    for (const [calleeId, list] of this.callLists) this.flushCallList(calleeId, list);
  }

  private block(locationId: number, start: number, end: number): BlockState {
    const key = locationId * 65536 + (end - start);
    let b = this.blocks.get(key);
    if (!b) {
      b = { id: this.nextBlockId++, code: null, executions: 0 };
      this.sql.insertBlock.run(b.id, locationId, start, end, null);
      this.blocks.set(key, b);
    }
    return b;
  }

  /** Keeps a block's code once; code that changed at the same address (JIT) becomes a new block. */
  private compile(locationId: number, start: number, end: number, v: DataView, at: number): void {
    const length = Math.min(end - start, MAX_COMPILE_BYTES);
    const code = Buffer.from(v.buffer, v.byteOffset + at, length);
    const key = locationId * 65536 + (end - start);
    const known = this.blocks.get(key);
    if (known?.code?.equals(code)) return;
    if (known && known.code === null) {
      known.code = Buffer.from(code);
      this.sql.setBlockCode.run(known.code, known.id);
      return;
    }
    const b = { id: this.nextBlockId++, code: Buffer.from(code), executions: 0 };
    this.sql.insertBlock.run(b.id, locationId, start, end, b.code);
    if (known) this.flushBlock(known);
    this.blocks.set(key, b);
  }

  private payloadCheck(at: number, bytes: number, end: number): void {
    if (at + bytes > end) throw new ChunkError('a record payload is shorter than its kind needs', 0);
  }

  private syscall(t: ThreadState, seq: number, locationId: number, nr: number, v: DataView, at: number, end: number): number {
    // Before capture format 3 a syscall had no time, and its captures followed the arguments.
    const captures = this.callPayloads ? Payload.syscall.memory : Payload.syscall.timeNs;
    this.payloadCheck(at, captures, end);
    const id = this.nextSyscallId++;
    const args = [0, 1, 2, 3, 4, 5].map((i) => BigInt.asIntN(64, v.getBigUint64(at + Payload.syscall.args + i * 8, true)));
    const time = this.callPayloads ? v.getBigUint64(at + Payload.syscall.timeNs, true) : null;
    this.sql.insertSyscall.run(id, t.tid, seq, locationId, nr, ...args, time);
    this.memory(this.sql.insertSyscallMemory, id, false, readMemory(v, at + captures, end));
    t.openSyscalls.push({ id, nr });
    return id;
  }

  /** Pairs a return with the innermost open syscall of that number (signal handlers nest them). */
  private sysret(t: ThreadState, seq: number, nr: number, v: DataView, at: number, end: number): number {
    this.payloadCheck(at, Payload.sysret.memory, end);
    const open = t.openSyscalls;
    let i = open.length - 1;
    while (i >= 0 && open[i].nr !== nr) i--;
    if (i < 0) return 0;
    const [entry] = open.splice(i, 1);
    this.sql.returnSyscall.run(v.getBigInt64(at + Payload.sysret.ret, true), seq, entry.id);
    this.memory(this.sql.insertSyscallMemory, entry.id, true, readMemory(v, at + Payload.sysret.memory, end));
    return entry.id;
  }

  private memory(insert: Statement, id: number, atReturn: boolean, captured: MemoryRead[]): void {
    for (const c of captured) insert.run(id, c.arg, atReturn ? 1 : 0, c.text, c.data, c.truncated ? 1 : 0, c.unreadable ? 1 : 0);
  }

  /** The library function at a location, under the name its prototype has where it has several. */
  private apiFunction(locationId: number, address: number): number {
    let id = this.apiFunctions.get(locationId);
    if (id !== undefined) return id;
    const module = this.modules.map.find(address);
    const names = module?.symbols.namesAt(address - module.base) ?? [];
    const name = names.find((n) => this.prototypes.has(n)) ?? names.find((n) => !n.startsWith('_')) ?? names[0] ??
      `0x${(module ? address - module.base : address).toString(16)}`;
    id = this.nextApiFunctionId++;
    this.sql.insertApiFunction.run(id, locationId, module?.name ?? '?', name);
    this.apiFunctions.set(locationId, id);
    this.functionPrototypes.set(id, this.prototypes.get(name) ?? null);
    return id;
  }

  private apicall(t: ThreadState, seq: number, fnAddress: number, fnLocationId: number, returnAddress: number, v: DataView, at: number, end: number): number {
    this.payloadCheck(at, Payload.apicall.args, end);
    const argc = v.getUint32(at + Payload.apicall.argc, true);
    const untracked = (v.getUint32(at + Payload.apicall.flags, true) & ApicallFlag.untracked) !== 0;
    const memoryAt = at + Payload.apicall.args + argc * 8;
    this.payloadCheck(memoryAt, 0, end);
    const id = this.nextApiCallId++;
    const functionId = this.apiFunction(fnLocationId, fnAddress);
    const prototype = this.functionPrototypes.get(functionId) ?? null;
    this.sql.insertApiCall.run(id, t.tid, seq, functionId, this.locations.id(returnAddress), argc, untracked ? 1 : 0);
    for (let i = 0; i < argc; i++) {
      this.sql.insertApiArg.run(id, i, valueOf(v.getBigUint64(at + Payload.apicall.args + i * 8, true), prototype?.args[i] ?? null));
    }
    this.memory(this.sql.insertApiMemory, id, false, readMemory(v, memoryAt, end));
    if (!untracked) t.openApis.push({ id, functionAddress: fnAddress, returnAddress, ret: prototype?.ret ?? null });
    return id;
  }

  /** Pairs a return with its call; calls opened after that one never returned (the target dropped them too). */
  private apiret(t: ThreadState, seq: number, returnAddress: number, fnAddress: number, v: DataView, at: number, end: number): number {
    this.payloadCheck(at, Payload.apiret.memory, end);
    const open = t.openApis;
    let i = open.length - 1;
    while (i >= 0 && (open[i].functionAddress !== fnAddress || open[i].returnAddress !== returnAddress)) i--;
    if (i < 0) return 0;
    const { id, ret } = open[i];
    open.length = i;
    this.sql.returnApi.run(valueOf(v.getBigUint64(at + Payload.apiret.ret, true), ret), seq, id);
    this.memory(this.sql.insertApiMemory, id, true, readMemory(v, at + Payload.apiret.memory, end));
    return id;
  }

  private flushBlock(b: BlockState): void {
    if (b.executions === 0) return;
    this.sql.addExecutions.run(b.executions, b.id);
    b.executions = 0;
  }

  /** Writes the aggregates gathered since the last flush. */
  private flush(): void {
    const sql = this.sql;
    this.flushCallLists();
    for (const b of this.blocks.values()) this.flushBlock(b);
    sql.clearFrames.run();
    for (const t of this.threads.values()) {
      sql.upsertThread.run({
        tid: t.tid, name: t.name, firstSeen: t.firstSeen, lastSeen: t.lastSeen, events: t.events, lost: t.lost,
        missing: t.missing, stallNs: t.stallNs, ended: t.ended ? 1 : 0,
      });
      t.events = t.missing = t.stallNs = 0;
      t.kinds.forEach((count, kind) => {
        if (count > 0) sql.addKind.run(t.tid, KIND_NAMES[kind] ?? String(kind), count);
      });
      t.kinds.fill(0);
      for (const [functionId, s] of t.stacks.functions) {
        if (s.calls === 0 && s.self === 0 && s.total === 0) continue;
        sql.addFunction.run(t.tid, functionId, s.calls, s.self, s.total);
        s.calls = s.self = s.total = 0;
      }
      for (const [callerId, callees] of t.stacks.edges) {
        for (const [calleeId, e] of callees) {
          if (e.calls === 0 && e.total === 0) continue;
          sql.addEdge.run(t.tid, callerId, calleeId, e.calls, e.total);
          e.calls = e.total = 0;
        }
      }
      t.stacks.frames.forEach((f, position) =>
        sql.saveFrame.run(t.tid, position, f.functionId, f.callerId, f.returnAddress, f.sp, f.entryCost, f.childCost));
    }
    sql.progress.run(this.position);
  }

  /** Makes everything so far durable, and starts the next transaction. */
  commit(): void {
    this.flush();
    this.db.exec('COMMIT');
    this.db.exec('BEGIN');
  }

  /**
   * Commits the rest. Frames are left open where the capture stopped without an end frame, so a
   * longer copy of the same capture continues them.
   */
  finish(): void {
    this.flush();
    this.db.exec('COMMIT');
  }

  abort(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }
}
