import { errnoOf, flagSet, syscallNames, syscallSignature, type FlagSet } from '../symbols/syscall-table.js';
import { hex, memoryText, quote, type MemoryRow } from './values.js';

/** A stored syscall (syscalls table), values as signed 64-bit integers. */
export interface SyscallRow {
  nr: bigint;
  args: bigint[];
  ret: bigint | null;
}

const AT_FDCWD = -100n;
/** Linux returns -4095..-1 for an error. */
const MAX_ERRNO = 4095n;

const int32 = (v: bigint) => BigInt.asIntN(32, v);
const uint64 = (v: bigint) => BigInt.asUintN(64, v);

/** Bits of a flag set, widest first so that O_SYNC is named before the O_DSYNC bit it includes. */
function namedBits(set: FlagSet, arch: string): Array<[string, bigint]> {
  const own = arch === 'arm64' ? set.arm64 : set.x64;
  return Object.entries({ ...set.common, ...own })
    .map(([name, bits]) => [name, BigInt(bits)] as [string, bigint])
    .sort((a, b) => b[1].toString(2).replace(/0/g, '').length - a[1].toString(2).replace(/0/g, '').length);
}

/** O_WRONLY|O_CREAT|O_TRUNC, SOCK_STREAM|SOCK_CLOEXEC, SIGTERM: a value through its flag set. */
export function formatFlags(setName: string, value: bigint, arch: string): string {
  const set = flagSet(setName);
  if (set === undefined) return hex(value);
  let rest = uint64(value);
  if (rest === 0n && set.zero !== undefined) return set.zero;
  const parts: string[] = [];
  if (set.access !== undefined) {
    const mode = rest & 3n;
    parts.push(set.access[mode.toString()] ?? mode.toString());
    rest &= ~3n;
  }
  if (set.values !== undefined) {
    // A plain value, or (socket types) a value in the low byte with flag bits above it.
    const base = set.common !== undefined ? rest & 0xffn : rest;
    parts.push(set.values[base.toString()] ?? base.toString());
    rest -= base;
  }
  for (const [name, bits] of namedBits(set, arch)) {
    if (bits !== 0n && (rest & bits) === bits) {
      parts.push(name);
      rest &= ~bits;
    }
  }
  if (rest !== 0n || parts.length === 0) parts.push(hex(rest));
  return parts.join('|');
}

function ipv6(bytes: Buffer): string {
  const groups = [...Array(8).keys()].map((i) => bytes.readUInt16BE(i * 2).toString(16));
  // The longest run of zero groups becomes ::.
  let best = [-1, 0];
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best[1]) best = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best[1] < 2) return groups.join(':');
  return `${groups.slice(0, best[0]).join(':')}::${groups.slice(best[0] + best[1]).join(':')}`;
}

/** A socket address as strace writes it. */
export function formatSockaddr(data: Buffer): string {
  if (data.length < 2) return '{}';
  const family = data.readUInt16LE(0);
  if (family === 2 && data.length >= 8) {
    return `{sa_family=AF_INET, sin_port=htons(${data.readUInt16BE(2)}), sin_addr=inet_addr("${[...data.subarray(4, 8)].join('.')}")}`;
  }
  if (family === 10 && data.length >= 24) {
    return `{sa_family=AF_INET6, sin6_port=htons(${data.readUInt16BE(2)}), sin6_addr=inet_pton("${ipv6(data.subarray(8, 24))}")}`;
  }
  if (family === 1) {
    const path = data.subarray(2);
    if (path.length > 0 && path[0] === 0) return `{sa_family=AF_UNIX, sun_path=@${quote(path.subarray(1).toString('latin1').replace(/\0+$/, ''))}}`;
    const end = path.indexOf(0);
    return `{sa_family=AF_UNIX, sun_path=${quote(path.subarray(0, end < 0 ? path.length : end).toString('utf8'))}}`;
  }
  return `{sa_family=${family}}`;
}

/** Formats syscalls of one trace in strace's one-line form: name(args) = result. */
export class SyscallFormatter {
  private readonly names: Map<number, string>;

  constructor(private readonly arch: string) {
    this.names = syscallNames(arch);
  }

  name(nr: bigint): string {
    return this.names.get(Number(nr)) ?? `syscall_${nr}`;
  }

  private arg(type: string, value: bigint, entry: MemoryRow | undefined, exit: MemoryRow | undefined, failed: boolean): string {
    const [kind] = type.split(':');
    switch (kind) {
      case 'int': return int32(value).toString();
      case 'fd': return int32(value).toString();
      case 'dirfd': return int32(value) === AT_FDCWD ? 'AT_FDCWD' : int32(value).toString();
      case 'uint': case 'size': return uint64(value).toString();
      case 'hex': return hex(uint64(value));
      case 'ptr': return value === 0n ? 'NULL' : hex(uint64(value));
      case 'mode': return value === 0n ? '0' : `0${uint64(value).toString(8)}`;
      case 'path': case 'str': case 'buf':
        if (value === 0n) return 'NULL';
        return entry === undefined ? hex(uint64(value)) : memoryText(entry, uint64(value));
      case 'obuf':
        if (value === 0n) return 'NULL';
        return exit === undefined || failed ? hex(uint64(value)) : memoryText(exit, uint64(value));
      case 'sockaddr':
        if (value === 0n) return 'NULL';
        if (entry === undefined) return hex(uint64(value));
        return entry.unreadable ? memoryText(entry, uint64(value)) : formatSockaddr(entry.data);
      default: return formatFlags(kind, value, this.arch);
    }
  }

  private result(ret: bigint | null, type: string): string {
    if (ret === null) return '?';
    if (ret < 0n && ret >= -MAX_ERRNO) {
      const e = errnoOf(Number(-ret));
      return e ? `-1 ${e.name} (${e.message})` : `-1 errno ${-ret}`;
    }
    return type === 'ptr' ? hex(uint64(ret)) : ret.toString();
  }

  /** open(2) reads its mode argument only when the flags create a file: strace leaves it out otherwise. */
  private modeIsRead(types: string[], args: bigint[]): boolean {
    const flags = types.indexOf('oflags');
    if (flags < 0) return true;
    const set = flagSet('oflags')!;
    const bits = (name: string) => BigInt((this.arch === 'arm64' ? set.arm64 : set.x64)?.[name] ?? set.common?.[name] ?? 0);
    const value = uint64(args[flags]);
    return (value & bits('O_CREAT')) !== 0n || (value & bits('O_TMPFILE')) === bits('O_TMPFILE');
  }

  /** `openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 3`. */
  line(s: SyscallRow, memory: MemoryRow[]): string {
    const name = this.name(s.nr);
    const sig = syscallSignature(name);
    const failed = s.ret !== null && s.ret < 0n && s.ret >= -MAX_ERRNO;
    const at = (position: number, atReturn: number) => memory.find((m) => m.position === position && m.at_return === atReturn);
    const args = sig === null
      ? s.args.map((a) => hex(uint64(a)))
      : sig.args.flatMap((type, i) => (type === 'mode' && !this.modeIsRead(sig.args, s.args) ? [] : [this.arg(type, s.args[i], at(i, 0), at(i, 1), failed)]));
    return `${name}(${args.join(', ')}) = ${this.result(s.ret, sig?.ret ?? 'int')}`;
  }
}
