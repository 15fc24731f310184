import { PointeeKind } from '../schema/layout.generated.js';

/**
 * What a C type in a prototype means for recording and showing a value: how wide and signed it
 * is, and what of the memory it points to is read (a string, or the 4- or 8-byte value an
 * output pointer receives).
 */
export interface ArgType {
  /** The type as written, spaces normalised, without __out/__inout. */
  name: string;
  direction: 'in' | 'out' | 'inout';
  /** Bytes of the value itself: 4 for int-sized types, else the pointer size. */
  size: number;
  signed: boolean;
  /** What is read of the memory it points to (PointeeKind). */
  pointee: number;
}

const STRING = /^(const )?(signed |unsigned )?char\*$|^(LPC?STR|PC?STR)$/;
const SOCKADDR = /^(const )?(struct )?sockaddr(_in|_in6|_un|_storage)?\*$/;
const WSTRING = /^(const )?(wchar_t|wchar|WCHAR)\*$|^(LPC?WSTR|PC?WSTR)$/;
const INT32 = new Set(['int', 'signed', 'signed int', 'int32_t', 'BOOL', 'INT', 'LONG', 'pid_t', 'wchar_t', 'short', 'char', 'signed char']);
const UINT32 = new Set(['unsigned', 'unsigned int', 'uint', 'uint32_t', 'DWORD', 'UINT', 'ULONG', 'socklen_t', 'mode_t', 'uid_t', 'gid_t',
  'unsigned short', 'unsigned char', 'uint16_t', 'uint8_t', 'int16_t', 'int8_t', 'u32']);
const SIGNED64 = new Set(['long', 'long long', 'ssize_t', 'off_t', 'off64_t', 'int64_t', 'intptr_t', 'ptrdiff_t', 'time_t', 'LONG64']);

/** `char *` -> `char*`, `unsigned   int` -> `unsigned int`. */
export function normalizeType(text: string): string {
  return text.trim().replace(/\s+/g, ' ').replace(/\s*\*\s*/g, '*');
}

/** The type a pointer type points to, or null for a type that is no pointer. */
const pointee = (name: string) => (name.endsWith('*') ? name.slice(0, -1).replace(/^const /, '') : null);

function pointeeKind(name: string): number {
  if (STRING.test(name)) return PointeeKind.string;
  if (WSTRING.test(name)) return PointeeKind.wstring;
  if (SOCKADDR.test(name)) return PointeeKind.sockaddr;
  const target = pointee(name);
  if (target === null) return PointeeKind.none;
  if (target.endsWith('*')) return PointeeKind.bytes8;
  if (INT32.has(target) || UINT32.has(target)) return PointeeKind.bytes4;
  if (SIGNED64.has(target) || /^(size_t|unsigned long|unsigned long long|uint64_t|uintptr_t|ULONG64|SIZE_T|u64)$/.test(target)) {
    return PointeeKind.bytes8;
  }
  return PointeeKind.none;
}

/** Parses one argument or return type; a string says what is wrong with it. */
export function parseArgType(text: string, pointerSize = 8): ArgType | string {
  const marker = /^(__\w+)\s*(.*)$/.exec(text.trim());
  let direction: ArgType['direction'] = 'in';
  let rest = text;
  if (marker) {
    if (marker[1] === '__out') direction = 'out';
    else if (marker[1] === '__inout') direction = 'inout';
    else return `unknown marker ${marker[1]} (use __out or __inout)`;
    rest = marker[2];
  }
  const name = normalizeType(rest);
  if (name === '') return marker ? `${marker[1]} needs a type after it` : 'empty type';
  if (!/^[A-Za-z_][\w ]*\**$/.test(name)) return `"${name}" is not a C type`;
  if (direction !== 'in' && !name.endsWith('*')) return `${marker![1]} ${name}: an output argument must be a pointer`;
  const plain = name.replace(/^const /, '');
  return {
    name, direction,
    size: INT32.has(plain) || UINT32.has(plain) ? 4 : pointerSize,
    signed: INT32.has(plain) || SIGNED64.has(plain),
    pointee: pointeeKind(name),
  };
}

/** A register or stack value as its type holds it: int-sized types keep their low 32 bits, sign-extended where signed. */
export function valueOf(raw: bigint, t: ArgType | null): bigint {
  if (t === null || t.size !== 4) return BigInt.asIntN(64, raw);
  return t.signed ? BigInt.asIntN(32, raw) : BigInt.asUintN(32, raw);
}

/** The type as a prototype file writes it. */
export const typeText = (t: ArgType) => (t.direction === 'in' ? t.name : `__${t.direction} ${t.name}`);
