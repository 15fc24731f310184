// The C side of the agent: compiles cmodule/ for this architecture and wraps what TypeScript calls.
import { ApiEntry, EventMask, SilentRange, type EventName } from '../host/schema/layout.generated.js';
import { CMODULE_GLOBALS_BYTES } from '../host/schema/protocol.generated.js';
import { CMODULE_SOURCE } from './cmodule-source.generated.js';
import type { TargetArch } from './target.js';

export class Tracer {
  private readonly cm: CModule;
  private readonly handle: NativePointer;
  private readonly outboxTake: NativeFunction<UInt64, [NativePointerValue, NativePointerValue]>;
  private readonly tracerDrain: NativeFunction<UInt64, [NativePointerValue]>;
  private readonly ringNew: NativeFunction<NativePointer, [NativePointerValue, number, number, number]>;
  private readonly ringEnd: NativeFunction<void, [NativePointerValue, number]>;
  private readonly tracerStop: NativeFunction<void, [NativePointerValue]>;
  private readonly tracerDisarm: NativeFunction<void, [NativePointerValue]>;
  private readonly isOrphaned: NativeFunction<number, [NativePointerValue]>;
  private readonly tracerSync: NativeFunction<void, [NativePointerValue]>;
  private readonly tracerWriteError: NativeFunction<number, [NativePointerValue]>;
  private readonly hostGone: NativeFunction<number, [NativePointerValue]>;
  private readonly writerThreadId: NativeFunction<number, [NativePointerValue]>;

  private readonly taken = Memory.alloc(Process.pointerSize);
  /** StGlobals (cmodule/globals.h), which fits in ST_GLOBALS_SPACE: the CModule's own image is read-only. */
  private readonly globals = Memory.alloc(CMODULE_GLOBALS_BYTES);

  private readonly drainThreadId: number;
  private silent = NULL;

  /** `recordingFromStart`: false under --func, where records wait for the function's entry. */
  constructor(arch: TargetArch, events: EventName[], outboxBytes: number, private readonly lossy: boolean,
    private readonly recordingFromStart: boolean) {
    this.cm = new CModule(CMODULE_SOURCE[arch], {
      syscall: Module.getGlobalExportByName('syscall'),
      memcmp: Module.getGlobalExportByName('memcmp'),
      // libc's, far faster than the CModule runtime's own for the drain's block copies.
      memcpy: Module.getGlobalExportByName('memcpy'),
      // Where syscall() leaves errno: glibc's name, else bionic's.
      st_errno_location: Module.findGlobalExportByName('__errno_location') ?? Module.getGlobalExportByName('__errno'),
      st_globals: this.globals,
    });
    const mask = events.reduce((m, e) => m | EventMask[e], 0);
    const init = new NativeFunction(this.cm.st_init, 'pointer', ['uint32', 'uint64']);
    this.handle = init(mask, outboxBytes);
    if (this.handle.isNull()) throw new Error('cannot map the page for the code Stalker calls (mmap refused)');
    this.outboxTake = new NativeFunction(this.cm.st_outbox_take, 'uint64', ['pointer', 'pointer']);
    this.tracerDrain = new NativeFunction(this.cm.st_tracer_drain, 'uint64', ['pointer']);
    this.ringNew = new NativeFunction(this.cm.st_ring_new, 'pointer', ['pointer', 'uint32', 'int', 'int']);
    this.ringEnd = new NativeFunction(this.cm.st_ring_end, 'void', ['pointer', 'int']);
    this.tracerStop = new NativeFunction(this.cm.st_tracer_stop, 'void', ['pointer']);
    this.tracerDisarm = new NativeFunction(this.cm.st_disarm, 'void', ['pointer']);
    this.isOrphaned = new NativeFunction(this.cm.st_tracer_is_orphaned, 'int', ['pointer']);
    this.tracerSync = new NativeFunction(this.cm.st_tracer_sync, 'void', ['pointer']);
    this.tracerWriteError = new NativeFunction(this.cm.st_tracer_write_error, 'int', ['pointer']);
    this.hostGone = new NativeFunction(this.cm.st_tracer_host_gone, 'int', ['pointer']);
    this.writerThreadId = new NativeFunction(this.cm.st_tracer_writer_thread_id, 'uint32', ['pointer']);
    this.drainThreadId = new NativeFunction(this.cm.st_tracer_drain_thread_id, 'uint32', ['pointer'])(this.handle);

  }

  get transform(): NativePointer {
    return this.cm.transform;
  }

  /** Call, return and block sites left unrecorded inside exclusive load/store sequences. */
  get skippedSites(): number {
    return new NativeFunction(this.cm.st_skipped_site_count, 'uint64', [])().toNumber();
  }

  /** Where nothing is recorded: Frida's own memory. The array lives as long as the tracer. */
  set silentRanges(ranges: { base: NativePointer; size: number }[]) {
    this.silent = Memory.alloc(Math.max(1, ranges.length) * SilentRange.size);
    ranges.forEach((r, i) => {
      const at = this.silent.add(i * SilentRange.size);
      at.add(SilentRange.start).writeU64(uint64(r.base.toString()));
      at.add(SilentRange.end).writeU64(uint64(r.base.add(r.size).toString()));
    });
    new NativeFunction(this.cm.st_set_silent_ranges, 'void', ['pointer', 'uint'])(this.silent, ranges.length);
  }

  /** --func: records are written only inside the function at `entry`. */
  set funcEntry(entry: NativePointer) {
    new NativeFunction(this.cm.st_set_func_entry, 'void', ['uint64'])(uint64(entry.toString()));
  }

  /** --insn-flags: instruction records carry the flags register where an instruction writes it. */
  set insnFlags(flags: boolean) {
    new NativeFunction(this.cm.st_set_insn_flags, 'void', ['int'])(flags ? 1 : 0);
  }

  /** --apis: record calls to these functions (entry, prototype), with what their arguments point to. */
  addApiEntries(entries: [NativePointer, NativePointer][]): void {
    if (entries.length === 0) return;
    const array = Memory.alloc(entries.length * ApiEntry.size);
    entries.forEach(([entry, proto], i) => {
      const at = array.add(i * ApiEntry.size);
      at.add(ApiEntry.function).writePointer(entry);
      at.add(ApiEntry.prototype).writePointer(proto);
    });
    new NativeFunction(this.cm.st_api_add_entries, 'void', ['pointer', 'uint'])(array, entries.length);
  }

  removeApiRange(start: NativePointer, end: NativePointer): void {
    new NativeFunction(this.cm.st_api_remove_range, 'void', ['pointer', 'pointer'])(start, end);
  }

  /** --only-from-app: only calls returning into [start, end). */
  setAppRange(start: NativePointer, end: NativePointer): void {
    new NativeFunction(this.cm.st_api_set_app_range, 'void', ['pointer', 'pointer'])(start, end);
  }

  ring(threadId: number): NativePointer {
    const ring = this.ringNew(this.handle, threadId, this.lossy ? 1 : 0, this.recordingFromStart ? 1 : 0);
    if (ring.isNull()) throw new Error('too many threads followed at once');
    return ring;
  }

  /** Nothing more will be written to the ring; `exited`: its thread is gone. */
  endRing(ring: NativePointer, exited: boolean): void {
    this.ringEnd(ring, exited ? 1 : 0);
  }

  /** Drains every ring now, on this thread, instead of waiting for the drain thread. */
  drain(): void {
    this.tracerDrain(this.handle);
  }

  /** The local device's transport: the link whose reading end the host holds while it lives; returns its fd number (-1: none). */
  openLink(): number {
    return new NativeFunction(this.cm.st_tracer_link_open, 'int', ['pointer'])(this.handle);
  }

  /** Opens the capture the host created, to append event frames to: 0, or the errno that refused it. */
  openCapture(path: string): number {
    return new NativeFunction(this.cm.st_tracer_capture_open, 'int', ['pointer', 'pointer'])(this.handle, Memory.allocUtf8String(path));
  }

  /** Whether a writer thread appends event frames to the capture (the host holds the link), or both are closed. */
  direct(use: boolean): void {
    new NativeFunction(this.cm.st_tracer_direct, 'void', ['pointer', 'int'])(this.handle, use ? 1 : 0);
  }

  /** The drain thread and the capture's writer: never followed. */
  isOwnThread(tid: number): boolean {
    return tid === this.drainThreadId || tid === this.writerThreadId(this.handle);
  }

  /** Appending to the capture: waits until every ring is drained and what it held is in the file. */
  sync(): void {
    this.tracerSync(this.handle);
  }

  /** Why appending to the capture stopped: 0 (it has not), an errno, CUT_SHORT or HOST_GONE. */
  get writeError(): number {
    return this.tracerWriteError(this.handle);
  }

  /** What was drained since the last call, or null. */
  take(): ArrayBuffer | null {
    const n = this.outboxTake(this.handle, this.taken).toNumber();
    return n === 0 ? null : this.taken.readPointer().readByteArray(n);
  }

  /** Whether the host that holds the capture's link is gone. */
  get abandoned(): boolean {
    return this.hostGone(this.handle) !== 0;
  }

  /** In a forked child, after fork returned there (st_on_fork_leave): nothing records any more. */
  get orphaned(): boolean {
    return this.isOrphaned(this.handle) !== 0;
  }

  /** fork's native onEnter and onLeave (cmodule/forks.h). */
  get forkEnter(): NativePointer {
    return this.cm.st_on_fork_enter;
  }

  get forkLeave(): NativePointer {
    return this.cm.st_on_fork_leave;
  }

  /** On the JavaScript thread, the runtime's lock released meanwhile: returns the forks still under way (0 normally). */
  forkPark(): number {
    return new NativeFunction(this.cm.st_fork_park, 'int', [], { scheduling: 'cooperative' })();
  }

  noteForkUnfollowed(tid: number): void {
    new NativeFunction(this.cm.st_fork_note_unfollowed, 'void', ['uint32'])(tid);
  }

  /** A parent thread waiting after its fork to be followed again; 0: none. */
  forkWaiting(): number {
    return new NativeFunction(this.cm.st_fork_waiting, 'uint32', [])();
  }

  forkRefollowed(tid: number): void {
    new NativeFunction(this.cm.st_fork_refollowed, 'void', ['uint32'])(tid);
  }

  stopDrainThread(): void {
    this.tracerStop(this.handle);
  }

  /**
   * Last: nothing records, and no code Stalker made for us leads into the CModule any more, so
   * the agent can be unloaded while threads are still inside Stalker's code (gates.h).
   */
  disarm(): void {
    this.tracerDisarm(this.handle);
  }
}
