import { Payload, SYSCALL_ARGS } from '../schema/layout.generated.js';
import type { RecordDecoder } from '../capture/ring-records.js';
import type { SyscallWriter } from '../store/syscall-writer.js';
import { readMemory } from '../capture/memory-reads.js';
import { PerThread } from './per-thread.js';
import type { MemoryRead } from '../model/memory-read.js';

interface OpenSyscall {
  id: number;
  nr: number;
  args: bigint[];
}

/** Told of each syscall's return, with the memory its return captured (output buffers the kernel wrote). */
export type SyscallReturned = (tid: number, id: number, args: bigint[], ret: bigint, reads: MemoryRead[]) => void;

/**
 * Syscall records: each call stored with its arguments, time and memory reads, and each return
 * paired with the call it ends. Calls an earlier ingest left without a return may still get one.
 */
export class Syscalls {
  /** Per thread, calls whose return has not come yet, innermost last. */
  private readonly open = new PerThread<OpenSyscall>();

  /** `timed`: capture format 3 on, where a syscall carries its time (callsCarryStackPointer). */
  constructor(private readonly writer: SyscallWriter, private readonly timed: boolean, private readonly returned?: SyscallReturned) {
    for (const s of writer.open()) this.open.of(s.threadId).push({ id: s.id, nr: s.nr, args: s.args });
  }

  /** The syscall record `r`, number `nr`; returns its id. */
  call(tid: number, seq: number, locationId: number, nr: number, r: RecordDecoder): number {
    // Before capture format 3 a syscall had no time, and its memory reads followed the arguments.
    const memoryAt = this.timed ? Payload.syscall.memory : Payload.syscall.timeNs;
    r.payloadHolds(memoryAt);
    const v = r.view;
    const at = r.payloadAt;
    const args = Array.from({ length: SYSCALL_ARGS }, (_, i) => BigInt.asIntN(64, v.getBigUint64(at + Payload.syscall.args + i * 8, true)));
    const time = this.timed ? v.getBigUint64(at + Payload.syscall.timeNs, true) : null;
    const id = this.writer.call(tid, seq, locationId, nr, args, time, readMemory(v, at + memoryAt, r.payloadEnd));
    this.open.of(tid).push({ id, nr, args });
    return id;
  }

  /** Pairs the sysret record `r` with the innermost open syscall of its number (signal handlers nest them); returns its id, 0 for none. */
  ret(tid: number, seq: number, nr: number, r: RecordDecoder): number {
    r.payloadHolds(Payload.sysret.memory);
    const open = this.open.of(tid);
    let i = open.length - 1;
    while (i >= 0 && open[i].nr !== nr) i--;
    if (i < 0) return 0;
    const [entry] = open.splice(i, 1);
    const ret = r.view.getBigInt64(r.payloadAt + Payload.sysret.ret, true);
    const reads = readMemory(r.view, r.payloadAt + Payload.sysret.memory, r.payloadEnd);
    this.writer.ret(entry.id, seq, ret, reads);
    this.returned?.(tid, entry.id, entry.args, ret, reads);
    return entry.id;
  }
}
