import type { Output } from '../../base/output.js';
import { UserError } from '../../base/errors.js';
import type { ArchName } from '../../schema/layout.generated.js';
import { RegisterState } from '../../model/register-state.js';
import type { TraceDb } from '../../store/database.js';
import { InsnWalk, type MemRow } from '../insn-walk.js';
import { hexU64 } from '../values.js';

/**
 * Tenet's text trace (gaasedelen/tenet, tracers/README.md; what plugins/tenet/trace/file.py
 * parses), one file per thread. A line is the state *at* one instruction, as Tenet's reference
 * tracer writes it at each instruction's callback: the registers the previous instruction changed
 * (every known one on the first line), the program counter last, then the memory the previous
 * instruction read and wrote (`mr=`, `mw=`, `mrw=` for one address both read and written;
 * `0xADDR:` then the bytes in memory order). Tenet's reader makes a line's memory part of the
 * state at that line, so an instruction's own accesses on its line would show a store's value
 * before the store ran.
 *
 * Left out, since Tenet's parser refuses a line with a name its arch does not list: flags and
 * vector registers. Also left out: registers whose value is not known (before the thread's first
 * sync, and after a write whose value was not recorded), never printed as 0; memory whose bytes
 * were not recorded; the last instruction's own changes, which have no next line to go on.
 * Memory the kernel wrote during a syscall is written (`mw=`) with the syscall instruction's other
 * changes, on the line after it.
 */

/** The registers Tenet's arch definitions read (amd64.py; the arm64 fork's X0–X30, SP), in the order written; the pc is apart. */
const TENET_REGISTERS: Record<ArchName, { names: [tenet: string, ours: string][]; pc: string }> = {
  x64: {
    names: ['rax', 'rbx', 'rcx', 'rdx', 'rbp', 'rsp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'].map((n) => [n, n]),
    pc: 'rip',
  },
  arm64: {
    names: [...Array.from({ length: 29 }, (_, i): [string, string] => [`x${i}`, `x${i}`]), ['x29', 'fp'], ['x30', 'lr'], ['sp', 'sp']],
    pc: 'pc',
  },
};


/**
 * The threads a Tenet export writes: those with instruction records (only `thread`, if given).
 * Refused in one sentence when there are none, before any output is opened.
 */
export function tenetThreads(db: TraceDb, thread?: number): number[] {
  if (!InsnWalk.present(db)) throw new UserError('the trace has no instruction records: record with --events insn for -F tenet');
  const threads = InsnWalk.threads(db).filter((t) => thread === undefined || t === thread);
  if (threads.length === 0) throw new UserError(`thread ${thread} has no instruction records`);
  return threads;
}

/** Memory entries of one instruction: a read and a write of the same bytes become one `mrw=` (the value after it). */
function memoryEntries(mems: MemRow[]): string[] {
  const recorded = mems.filter((m) => m.value !== null);
  const out: string[] = [];
  for (const m of recorded) {
    const same = (o: MemRow) => o.address === m.address && o.size === m.size;
    if (m.access === 'w' && recorded.some((o) => o.access === 'r' && same(o))) continue;
    const written = m.access === 'r' ? recorded.find((o) => o.access === 'w' && same(o)) : undefined;
    out.push(written ? `mrw=${hexU64(m.address)}:${written.value!.toString('hex')}` : `m${m.access}=${hexU64(m.address)}:${m.value!.toString('hex')}`);
  }
  return out;
}

/** Writes one thread's Tenet trace. Returns the lines written. */
export async function writeTenet(db: TraceDb, arch: ArchName, tid: number, out: Output): Promise<number> {
  const walk = new InsnWalk(db, arch);
  const tenet = TENET_REGISTERS[arch];
  const ids = tenet.names.map(([name, ours]) => [name, walk.registers.ids.get(ours)!] as const);
  const state = new RegisterState(walk.registers);
  const shown = new Map<number, bigint>();
  let previous: MemRow[] = [];
  let lines = 0;
  for (const step of walk.steps(tid, 0, Infinity, state)) {
    if (out.closed) break;
    const parts: string[] = [];
    for (const [name, id] of ids) {
      const v = state.get(id);
      if (typeof v !== 'bigint' || shown.get(id) === v) continue;
      shown.set(id, v);
      parts.push(`${name}=${hexU64(v)}`);
    }
    parts.push(`${tenet.pc}=${hexU64(step.insn.address)}`, ...memoryEntries(previous));
    await out.line(parts.join(','));
    previous = step.mems;
    lines++;
  }
  return lines;
}
