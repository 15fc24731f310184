import { FrameHeader, Kind, type EndMessage, type TraceMessage } from '../schema/layout.generated.js';
import { COST_KIND, costUnitOf } from '../model/cost-unit.js';
import { callsCarryStackPointer, type CaptureInfo } from '../capture/version.js';
import type { CaptureFrame } from '../capture/reader.js';
import { parseMeta, recordedEvents } from '../capture/meta.js';
import { chunksOf, ChunkError, type Chunk } from '../capture/chunks.js';
import { RecordDecoder } from '../capture/ring-records.js';
import type { TraceDb } from '../store/database.js';
import { TraceWriter } from '../store/trace-writer.js';
import { EventWriter } from '../store/event-writer.js';
import { AggregateWriter } from '../store/aggregate-writer.js';
import { OpenFrameWriter } from '../store/open-frame-writer.js';
import { BlockWriter } from '../store/block-writer.js';
import { SyscallWriter } from '../store/syscall-writer.js';
import { ApiWriter } from '../store/api-writer.js';
import { LocationWriter } from '../store/location-writer.js';
import { ModuleWriter } from '../store/module-writer.js';
import { InsnWriter } from '../store/insn-writer.js';
import { registerSet } from '../model/registers.js';
import { ChunkEvents, NOT_AN_EVENT } from '../model/chunk-events.js';
import { storedPrototypes } from '../symbols/prototypes.js';
import { FrameDamage } from './frame-damage.js';
import { ChunkRun } from './chunk-runs.js';
import { Locations } from './locations.js';
import { ModuleRegistry } from './modules.js';
import { Threads, type ThreadState } from './threads.js';
import { Blocks } from './blocks.js';
import { Syscalls } from './syscalls.js';
import { ApiCalls } from './api-calls.js';
import { Insns } from './insns.js';

export interface IngestWarning {
  (message: string): void;
}

/**
 * Turns capture frames into the trace store: meta frames go to the trace row and the module map,
 * each record of an events frame to the piece that keeps its kind. Everything since the last
 * commit is one transaction together with the capture offset it reached, so a rerun resumes
 * exactly where this one stopped.
 */
export class Ingester {
  private readonly trace: TraceWriter;
  private readonly modules: ModuleRegistry;
  private readonly locations: Locations;
  private readonly threads: Threads;
  private readonly events: EventWriter;
  private readonly blocks: Blocks;
  private readonly syscalls: Syscalls;
  private readonly apis: ApiCalls;
  private readonly insns: Insns;
  private readonly records: RecordDecoder;
  private readonly chunkEvents = new ChunkEvents();
  private readonly run: ChunkRun;
  /** The record kind the trace's cost unit counts. */
  private costKind: number;
  private hasTrace: boolean;
  /** Capture offset of everything stored once the open transaction commits. */
  position: number;
  /** Events stored by this ingester, for progress displays. */
  storedEvents = 0;

  constructor(private readonly db: TraceDb, private readonly capture: CaptureInfo, private readonly warn: IngestWarning) {
    // Capture format 3 on: calls carry their stack pointer and length, syscalls their time.
    const format3 = callsCarryStackPointer(capture);
    this.trace = new TraceWriter(db);
    const stored = this.trace.stored();
    this.hasTrace = stored !== undefined;
    this.position = stored?.ingestedBytes ?? 0;
    const costKind = COST_KIND[stored?.costUnit ?? 'calls'];
    this.costKind = Kind[costKind];
    this.events = new EventWriter(db);
    this.threads = new Threads(new AggregateWriter(db), new OpenFrameWriter(db), costKind);
    this.modules = new ModuleRegistry(new ModuleWriter(db));
    this.locations = new Locations(new LocationWriter(db), this.modules.map);
    this.insns = new Insns(new InsnWriter(db), this.locations, registerSet(capture.arch));
    this.syscalls = new Syscalls(new SyscallWriter(db), format3, this.insns.syscallReturned);
    this.apis = new ApiCalls(new ApiWriter(db), storedPrototypes(db), this.modules.map, this.locations);
    this.blocks = new Blocks(new BlockWriter(db));
    this.records = new RecordDecoder(format3);
    this.run = new ChunkRun(format3);
    db.exec('BEGIN');
  }

  /** Stores one frame; `frame.end` becomes the resume point at the next commit. */
  frame(frame: CaptureFrame): void {
    if (frame.type === 'meta') this.meta(frame);
    else this.eventsFrame(frame);
    this.position = frame.end;
  }

  private corrupt(frame: CaptureFrame, offsetInPayload: number, reason: string): FrameDamage {
    return new FrameDamage(frame.offset, frame.offset + FrameHeader.size + offsetInPayload, reason);
  }

  private meta(frame: CaptureFrame): void {
    // Events before it resolve against the module map as it was.
    this.storeRun();
    const message = parseMeta(frame.payload);
    if (typeof message === 'string') throw this.corrupt(frame, 0, message);
    if (message.type !== 'trace' && !this.hasTrace) throw this.corrupt(frame, 0, 'the capture does not start with a trace frame');
    switch (message.type) {
      case 'trace': return this.startTrace(message);
      case 'apis': return this.apis.addPrototypes(message);
      case 'module-load': this.locations.claim(this.modules.load(message)); return;
      case 'module-unload': return this.modules.unload(message.base);
      case 'thread': this.threads.get(message.tid).name = message.name ?? null; return;
      case 'end': return this.endTrace(message);
    }
  }

  private startTrace(m: TraceMessage): void {
    if (this.hasTrace) return;
    const unit = costUnitOf(recordedEvents(m));
    this.costKind = Kind[COST_KIND[unit]];
    this.trace.started(this.capture.captureId, m, unit);
    this.hasTrace = true;
  }

  /** The recording ended in order: frames still open end here, at the last cost seen. */
  private endTrace(m: EndMessage): void {
    this.trace.ended(m);
    this.threads.closeAll();
  }

  private eventsFrame(frame: CaptureFrame): void {
    if (!this.hasTrace) throw this.corrupt(frame, 0, 'events before the trace frame');
    try {
      for (const chunk of chunksOf(frame.payload, true)) {
        const joinable = this.run.joinable(chunk);
        if (!joinable || !this.run.continues(chunk)) this.storeRun();
        if (joinable) this.run.add(chunk);
        else this.chunk({ chunk, lastTimestampNs: chunk.timestampNs });
      }
      // The next frame may carry the run on.
      if (this.run.open) this.run.own();
      else this.storeRun();
    } catch (e) {
      this.run.clear();
      if (e instanceof ChunkError) throw this.corrupt(frame, e.offset, e.message);
      throw e;
    }
  }

  /** Stores the chunks the run has joined. */
  private storeRun(): void {
    if (!this.run.empty) this.chunk(this.run.take());
  }

  /** A run of a thread's chunks, joined (ChunkRun); `lastTimestampNs`: when its last one was drained. */
  private chunk({ chunk, lastTimestampNs }: { chunk: Chunk; lastTimestampNs: number }): void {
    const t = this.threads.get(chunk.threadId);
    t.lost = Math.max(t.lost, chunk.lost);
    if (chunk.recordCount > 0 && this.inSequence(t, chunk)) this.store(t, chunk, lastTimestampNs);
    if (chunk.threadEnded) {
      t.ended = true;
      t.stacks.closeAll(t.cost);
    }
  }

  /** Whether the chunk's records are new: a chunk sent twice is stored once, events missing before it are counted. */
  private inSequence(t: ThreadState, chunk: Chunk): boolean {
    if (chunk.firstSeq + chunk.recordCount <= t.nextSeq) return false;
    if (chunk.firstSeq < t.nextSeq) throw new ChunkError(`thread ${t.tid} chunk overlaps events already stored`, 0);
    if (chunk.firstSeq > t.nextSeq) {
      const gap = chunk.firstSeq - t.nextSeq;
      t.missing += gap;
      this.warn(`thread ${t.tid}: ${gap} events missing before sequence ${chunk.firstSeq}`);
    }
    return true;
  }

  /**
   * The hot path, a pass each over the chunk's records: each resolved and counted, then calls and
   * returns paired on the thread's stack, then all stored as events.
   */
  private store(t: ThreadState, chunk: Chunk, lastTimestampNs: number): void {
    t.firstSeen ??= chunk.timestampNs;
    t.lastSeen = lastTimestampNs;
    this.chunkEvents.reset(this.records.decode(chunk));
    const insnSeq = this.insns.seq;
    this.resolve(t, chunk.firstSeq);
    this.blocks.chunk(this.records, this.chunkEvents.locationIds);
    t.cost = t.stacks.pair(this.chunkEvents, this.records, this.costKind, t.cost);
    this.events.write(chunk, this.chunkEvents, insnSeq);
    t.events += chunk.recordCount;
    this.storedEvents += chunk.recordCount;
    t.nextSeq = chunk.firstSeq + chunk.recordCount;
  }

  /** Gives each record of the chunk its event's kind, location and value, and stores what other tables keep of it. */
  private resolve(t: ThreadState, firstSeq: number): void {
    const { kinds, locations: addresses, targets } = this.records;
    const { count, kinds: eventKinds, locationIds, values, insnSeqs } = this.chunkEvents;
    const locations = this.locations;
    const counts = t.kinds;
    for (let i = 0, seq = firstSeq; i < count; i++, seq++) {
      const kind = kinds[i];
      if (kind === Kind.repeat) {
        // A loop kept whole: its group's entries stand for it, and are counted again for each copy.
        const span = addresses[i];
        const times = targets[i];
        for (let j = i - span; j < i; j++) counts[kinds[j]] += times;
        eventKinds[i] = kind;
        locationIds[i] = span;
        values[i] = times;
        seq += span * times - 1;
        continue;
      }
      counts[kind]++;
      if (kind === Kind.insn || kind === Kind.insnopen || kind === Kind.insnlayout || kind === Kind.insnsync) {
        this.insn(t, i);
        eventKinds[i] = NOT_AN_EVENT;
        insnSeqs[i] = this.insns.seq;
        continue;
      }
      const locationId = locations.id(addresses[i]);
      eventKinds[i] = kind;
      locationIds[i] = locationId;
      if (kind === Kind.call) values[i] = locations.calleeId(targets[i]);
      else if (kind === Kind.ret) values[i] = locations.id(targets[i]);
      else if (kind === Kind.exec) values[i] = 0;
      else if (kind === Kind.block || kind === Kind.compile) values[i] = targets[i] - addresses[i];
      else values[i] = this.value(t, i, seq, locationId);
    }
  }

  /** Instruction record `i`: stored in the instruction tables, not among the events. */
  private insn(t: ThreadState, i: number): void {
    const r = this.records;
    r.select(i);
    if (r.kind === Kind.insn) this.insns.run(t, r);
    else if (r.kind === Kind.insnopen) t.missing++; // a run drained before it ended: its values are incomplete
    else if (r.kind === Kind.insnlayout) this.insns.layout(t, r);
    else this.insns.sync(t, r);
  }

  /** The value of record `i`, event `seq`, of a kind other than call, ret, exec, block and compile. */
  private value(t: ThreadState, i: number, seq: number, locationId: number): number {
    const r = this.records;
    r.select(i);
    const { kind, location: address, target } = r;
    switch (kind) {
      case Kind.syscall:
        return this.syscalls.call(t.tid, seq, locationId, target, r);
      case Kind.sysret:
        return this.syscalls.ret(t.tid, seq, target, r);
      case Kind.apicall:
        return this.apis.call(t.tid, seq, address, locationId, target, r);
      case Kind.apiret:
        return this.apis.ret(t.tid, seq, address, target, r);
      case Kind.stall:
        t.stallNs += target;
        return target;
      default:
        throw new ChunkError(`unknown record kind ${kind} at slot ${r.slot}`, 0);
    }
  }

  /** Writes what is gathered in memory, and how far the capture is stored. */
  private flush(): void {
    this.storeRun();
    this.events.flush();
    this.insns.flush();
    this.blocks.flush();
    this.threads.flush();
    this.trace.reached(this.position);
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
