// How argument values and the memory they point to are written in reports: C-style quoted
// strings as strace shows them, hex numbers, and what could not be read.

/** Memory an argument pointed to, as stored (api_memory, syscall_memory). */
export interface MemoryRow {
  position: number;
  at_return: number;
  text: string | null;
  data: Buffer;
  truncated: number;
  unreadable: number;
}

export const hex = (n: bigint | number) => (n < 0 ? `-0x${(-BigInt(n)).toString(16)}` : `0x${n.toString(16)}`);

/** A 64-bit register or address as the machine holds it: negative numbers as their two's complement. */
export const hexU64 = (n: bigint | number) => hex(BigInt.asUintN(64, BigInt(n)));

const ESCAPES: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\v': '\\v', '\f': '\\f', '"': '\\"', '\\': '\\\\' };

/** A C string literal for text: printable characters as they are, the rest escaped. */
export function quote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ESCAPES[ch] !== undefined) out += ESCAPES[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Bytes as strace shows a buffer: a C string literal, non-ASCII bytes escaped. */
export function quoteBytes(data: Buffer): string {
  let out = '"';
  for (const b of data) {
    const ch = String.fromCharCode(b);
    if (ESCAPES[ch] !== undefined) out += ESCAPES[ch];
    else if (b < 0x20 || b >= 0x7f) out += `\\x${b.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** What a pointer argument pointed to: a string or bytes, `...` when cut short, or why it is missing. */
export function memoryText(m: MemoryRow, address: bigint): string {
  if (m.unreadable) return `<unreadable ${hex(address)}>`;
  const body = m.text !== null ? quote(m.text) : quoteBytes(m.data);
  return m.truncated ? `${body}...` : body;
}
