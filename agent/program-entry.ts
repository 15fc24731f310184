// Where a program's own code begins when it has no `main` symbol (every stripped or
// distribution binary). The ELF entry point, `_start`, hands `main` to the C library's start
// routine: glibc's __libc_start_main takes it as its first argument (rdi / x0), bionic's
// __libc_init as its third (rdx / x2), the latter after a direct jump or call to `_start_main`.
// This file follows those few instructions, tracking what each argument register holds, and
// returns the address found there. It uses no Frida API, so the host tests run it on real
// binaries through Capstone: instructions arrive as Capstone prints them (Intel syntax).

import type { AgentInfo } from '../host/schema/protocol.generated.js';

/** One decoded instruction, as Frida's Instruction.parse and Capstone both give it. */
export interface Decoded {
  address: bigint;
  size: number;
  mnemonic: string;
  opStr: string;
}

export interface CodeReader {
  arch: AgentInfo['arch'];
  decode(address: bigint): Decoded | null;
  /** A pointer-sized value in the process, or null where it cannot be read. */
  readPointer(address: bigint): bigint | null;
  /** Whether an address lies in the program's own code. */
  isProgramCode(address: bigint): boolean;
}

/** Argument registers that carry `main`: glibc's first, then bionic's third. */
const CARRIERS = { x64: ['rdi', 'rdx'], arm64: ['x0', 'x2'] };
const MAX_INSTRUCTIONS = 96;
const MAX_STEPS_INTO = 2;

const X64_ALIASES: Record<string, string> = {};
for (const r of ['ax', 'bx', 'cx', 'dx', 'si', 'di', 'bp', 'sp']) {
  for (const form of [`e${r}`, r, `${r[0]}l`, `${r}l`]) X64_ALIASES[form] = `r${r}`;
}
for (let n = 8; n <= 15; n++) for (const suffix of ['d', 'w', 'b']) X64_ALIASES[`r${n}${suffix}`] = `r${n}`;

/** The 64-bit register an operand names (ecx -> rcx, w2 -> x2), or null. */
function register(arch: CodeReader['arch'], text: string): string | null {
  const t = text.trim();
  if (arch === 'x64') return /^[a-z][a-z0-9]*$/.test(t) ? X64_ALIASES[t] ?? t : null;
  const m = /^([xw])(\d+)$/.exec(t);
  return m ? `x${m[2]}` : null;
}

function number(text: string): bigint | null {
  const m = /^#?(-?)(0x[0-9a-f]+|\d+)$/i.exec(text.trim());
  if (!m) return null;
  const v = BigInt(m[2]);
  return m[1] === '-' ? -v : v;
}

/** Splits operands at top-level commas (not those inside brackets). */
function operands(opStr: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < opStr.length; i++) {
    const c = opStr[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === ',' && depth === 0) {
      out.push(opStr.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (opStr.trim() !== '') out.push(opStr.slice(start).trim());
  return out;
}

/** What the registers hold so far; a register absent from the map holds something unknown. */
type Values = Map<string, bigint>;

/** The address a memory operand names: `[rip + 0x2f4f]`, `qword ptr [rip - 8]`, `[x0, #0xfe8]`. */
function memoryAddress(reader: CodeReader, insn: Decoded, text: string, values: Values): bigint | null {
  const inner = /\[([^\]]*)\]/.exec(text)?.[1];
  if (inner === undefined) return null;
  if (reader.arch === 'x64') {
    const m = /^(\w+)\s*(?:([+-])\s*(0x[0-9a-f]+|\d+))?$/i.exec(inner.trim());
    if (!m) return null;
    const base = m[1] === 'rip' ? insn.address + BigInt(insn.size) : values.get(register('x64', m[1]) ?? '');
    if (base === undefined) return null;
    const disp = m[3] === undefined ? 0n : BigInt(m[3]) * (m[2] === '-' ? -1n : 1n);
    return base + disp;
  }
  const [baseText, dispText] = inner.split(',');
  const base = values.get(register('arm64', baseText) ?? '');
  const disp = dispText === undefined ? 0n : number(dispText);
  return base === undefined || disp === null ? null : base + disp;
}

/** The value an instruction puts into its first operand, where it is one this scan follows. */
function written(reader: CodeReader, insn: Decoded, ops: string[], values: Values): bigint | null {
  const m = insn.mnemonic;
  const src = ops[1];
  if (src === undefined) return null;
  const fromRegister = () => values.get(register(reader.arch, src) ?? '') ?? null;
  const loaded = () => {
    const at = memoryAddress(reader, insn, src, values);
    return at === null ? null : reader.readPointer(at);
  };
  if (reader.arch === 'x64') {
    if (m === 'lea') return memoryAddress(reader, insn, src, values);
    if (m === 'mov' || m === 'movabs') return src.includes('[') ? loaded() : number(src) ?? fromRegister();
    return null;
  }
  if (m === 'adrp' || m === 'adr') return number(src);
  if (m === 'mov') return number(src) ?? fromRegister();
  if (m === 'add' && ops[2] !== undefined) {
    const base = fromRegister();
    const imm = number(ops[2]);
    return base === null || imm === null ? null : base + imm;
  }
  if (m === 'ldr') return loaded();
  return null;
}

/** Instructions whose first operand is read, not written: stores, compares, conditional branches. */
const READS_FIRST_OPERAND = { x64: /^(push|cmp|test|j)/, arm64: /^(st|cmp|cmn|tst|cb|tb|b\.|ccmp)/ };

const isCall = (arch: CodeReader['arch'], m: string) => (arch === 'x64' ? m === 'call' : m === 'bl' || m === 'blr');
const isJump = (arch: CodeReader['arch'], m: string) => (arch === 'x64' ? m === 'jmp' : m === 'b' || m === 'br');

/**
 * `main`, as the entry point passes it to the C library, or null where the code at the entry
 * does not follow the glibc or bionic pattern (a static Go or Rust runtime, say).
 */
export function findMain(reader: CodeReader, entry: bigint): bigint | null {
  let values: Values = new Map();
  let at = entry;
  let stepsInto = 0;
  for (let n = 0; n < MAX_INSTRUCTIONS; n++) {
    const insn = reader.decode(at);
    if (insn === null) return null;
    const ops = operands(insn.opStr);
    const next = insn.address + BigInt(insn.size);
    const call = isCall(reader.arch, insn.mnemonic);
    if (call || isJump(reader.arch, insn.mnemonic)) {
      for (const r of CARRIERS[reader.arch]) {
        const v = values.get(r);
        if (v !== undefined && v !== entry && reader.isProgramCode(v)) return v;
      }
      // A direct jump or call into the program's own code (bionic's _start -> _start_main): step in.
      const target = number(ops[0] ?? '');
      if (target === null || !reader.isProgramCode(target) || stepsInto++ >= MAX_STEPS_INTO) return null;
      // Argument registers carry into the callee as they are.
      at = target;
      continue;
    }
    if (insn.mnemonic === 'ret' || insn.mnemonic === 'hlt') return null;
    const dest = ops[0] === undefined ? null : register(reader.arch, ops[0]);
    if (dest !== null && !READS_FIRST_OPERAND[reader.arch].test(insn.mnemonic)) {
      const v = written(reader, insn, ops, values);
      if (v === null) values.delete(dest);
      else values.set(dest, v);
    }
    at = next;
  }
  return null;
}
