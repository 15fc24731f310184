import { PointeeKind } from '../schema/layout.generated.js';
import { typeText, type ArgType } from '../symbols/arg-types.js';
import type { Prototype } from '../symbols/prototypes.js';
import { formatSockaddr } from './syscall-text.js';
import { hex, memoryText, type MemoryRow } from './values.js';

/** A stored library call (api_calls) with where it returns to; values as signed 64-bit integers. */
export interface ApiCallRow {
  id: number;
  thread_id: number;
  seq: number;
  module: string;
  name: string;
  return_module_id: number | null;
  return_offset: number | null;
  return_address: number;
  ret: bigint | null;
  untracked: number;
  args: bigint[];
  memory: MemoryRow[];
}

const uint64 = (v: bigint) => BigInt.asUintN(64, v);

/** A value as its type has it: 4-byte types cut to 32 bits, signed ones shown with a minus. */
function number(v: bigint, t: ArgType | null): string {
  if (t === null) return hex(uint64(v));
  if (t.size === 4) return hex(t.signed ? BigInt.asIntN(32, v) : BigInt.asUintN(32, v));
  return hex(t.signed ? BigInt.asIntN(64, v) : uint64(v));
}

/** What a pointer pointed to: a string, a socket address, or the 4- or 8-byte number there. */
function pointed(m: MemoryRow | undefined, t: ArgType, address: bigint): string {
  if (m === undefined) return '?';
  if (t.pointee === PointeeKind.sockaddr && !m.unreadable) return formatSockaddr(m.data);
  if (m.unreadable || m.text !== null || m.truncated) return memoryText(m, address);
  const size = t.pointee === PointeeKind.bytes4 ? 4 : 8;
  if (m.data.length < size) return memoryText(m, address);
  return hex(size === 4 ? BigInt(m.data.readUInt32LE(0)) : m.data.readBigUInt64LE(0));
}

const captures = (t: ArgType) => t.pointee !== PointeeKind.none;

/** Formats library calls: drltrace's log layout, and one line for replay. */
export class ApiFormatter {
  constructor(private readonly prototypes: Map<string, Prototype>) {}

  private value(call: ApiCallRow, i: number, t: ArgType | null): string {
    const v = call.args[i];
    const at = (atReturn: number) => call.memory.find((m) => m.position === i && m.at_return === atReturn);
    if (t === null || !captures(t)) return number(v, t);
    if (v === 0n) return '<null>';
    const entry = at(0);
    const before = entry === undefined ? hex(uint64(v)) : pointed(entry, t, uint64(v));
    if (t.direction === 'in') return before;
    const after = call.ret === null ? '?' : pointed(at(1), t, uint64(v));
    return `${before} => ${after}`;
  }

  private returned(call: ApiCallRow, p: Prototype | undefined): string | null {
    if (call.ret === null) return call.untracked ? '(return not watched: nested too deep in other library calls)' : '(no return seen)';
    if (p?.ret === null) return null;
    const t = p?.ret ?? null;
    const text = number(call.ret, t);
    const target = call.memory.find((m) => m.position === -1);
    return target === undefined || call.ret === 0n ? text : `${text} => ${memoryText(target, uint64(call.ret))}`;
  }

  /** drltrace's block for one call; `moduleId` numbers the return address's module for the table at the end. */
  drltrace(call: ApiCallRow, moduleId: number | undefined): string[] {
    const p = this.prototypes.get(call.name);
    const lines = [`~~${call.thread_id}~~ ${call.module}!${call.name}`];
    call.args.forEach((_, i) => {
      const t = p?.args[i] ?? null;
      lines.push(t === null ? `    arg ${i}: ${this.value(call, i, null)}` : `    arg ${i}: ${this.value(call, i, t)} (type=${typeText(t)}, size=${hex(t.size)})`);
    });
    lines.push(moduleId === undefined || call.return_offset === null
      ? `    and return to ${hex(call.return_address)}`
      : `    and return to module id:${moduleId}, offset:${hex(call.return_offset)}`);
    const ret = this.returned(call, p);
    if (ret !== null) lines.push(`    ret: ${ret}${p?.ret && call.ret !== null ? ` (type=${typeText(p.ret)})` : ''}`);
    return lines;
  }

  /** `libc.so.6!open("/tmp/x", 0x41, 0x1a4) = 0x3`. */
  line(call: ApiCallRow): string {
    const p = this.prototypes.get(call.name);
    const args = call.args.map((_, i) => this.value(call, i, p?.args[i] ?? null));
    const ret = this.returned(call, p);
    return `${call.module}!${call.name}(${args.join(', ')})${ret === null ? '' : ` = ${ret}`}`;
  }
}
