import type { Statement } from 'better-sqlite3';
import type { ArchName } from '../schema/layout.generated.js';
import type { RegisterSet } from '../model/registers.js';
import type { RegisterValue } from '../model/register-state.js';
import type { TraceDb } from '../store/database.js';
import type { Decode } from './disassembler.js';
import { InsnWalk } from './insn-walk.js';
import { hexU64 } from './values.js';

/** One instruction of a layout, ready to print: its place, bytes, text and the registers it reads. */
interface InsnText {
  head: string;
  reads: number[];
}

// Register names as disassemblers write their parts: each maps to the register records name.
const X64_PARTS: Record<string, string> = {};
for (const [r, parts] of Object.entries({
  rax: 'eax ax al ah', rbx: 'ebx bx bl bh', rcx: 'ecx cx cl ch', rdx: 'edx dx dl dh', rsi: 'esi si sil', rdi: 'edi di dil',
  rbp: 'ebp bp bpl', rsp: 'esp sp spl', rip: 'eip ip',
})) for (const p of [r, ...parts.split(' ')]) X64_PARTS[p] = r;
for (let i = 8; i < 16; i++) for (const s of ['', 'd', 'w', 'b']) X64_PARTS[`r${i}${s}`] = `r${i}`;

function canonical(arch: ArchName, token: string): string | undefined {
  if (arch === 'x64') return X64_PARTS[token] ?? (/^[xy]mm\d+$/.test(token) ? token : undefined);
  const m = /^([xwqvdsbh])(\d+)$/.exec(token);
  if (m) {
    const n = Number(m[2]);
    if ('xw'.includes(m[1])) return n === 29 ? 'fp' : n === 30 ? 'lr' : n < 29 ? `x${n}` : undefined;
    return `q${n}`;
  }
  return token === 'wsp' ? 'sp' : ['fp', 'lr', 'sp'].includes(token) ? token : undefined;
}

/** Instructions whose first operand, a register, is only written (x86_64); on arm64 every first register operand is, but these. */
const X64_WRITE_ONLY = /^(mov|movzx|movsx|movsxd|movabs|lea|pop|movaps|movups|movdqa|movdqu|movq|movd|set\w+)$/;
const ARM64_READS_FIRST = /^(st|cmp|cmn|tst|cbn?z|tbn?z|b|br|blr|ret|ccm[pn]|fcmp|prfm)/;

/**
 * The registers an instruction reads, from its operand text: every register named, but a
 * first operand the instruction only writes (ldp-style pairs: the first two). Capstone's
 * register-access details are not exposed by capstone-wasm, so the text is what there is.
 */
export function registersRead(arch: ArchName, registers: RegisterSet, mnemonic: string, opStr: string): number[] {
  const operands = opStr.split(/,(?![^[]*\])/).map((o) => o.trim());
  let skip = 0;
  const bare = (o: string | undefined) => o !== undefined && canonical(arch, o) !== undefined;
  // imul with three operands writes its first: the product of the other two.
  const x64WriteOnly = X64_WRITE_ONLY.test(mnemonic) || (mnemonic === 'imul' && operands.length === 3);
  if (arch === 'x64' ? x64WriteOnly && bare(operands[0]) : !ARM64_READS_FIRST.test(mnemonic) && bare(operands[0])) skip = 1;
  if (arch === 'arm64' && /^ld[a-z]*p$/.test(mnemonic) && bare(operands[1])) skip = 2;
  const out: number[] = [];
  for (const o of operands.slice(skip)) {
    for (const token of o.match(/[a-z][a-z0-9]*/g) ?? []) {
      const name = canonical(arch, token);
      const id = name === undefined ? undefined : registers.ids.get(name);
      if (id !== undefined && !out.includes(id)) out.push(id);
    }
  }
  return out;
}

const valueText = (v: RegisterValue | undefined) => v === undefined ? '?' : Buffer.isBuffer(v) ? v.toString('hex') : hexU64(v);

/**
 * replay --regs: a thread's instructions as unidbg users read them, one line each
 * (`[module+0xoff] [bytes] 0xaddr: text ; reads: reg=value => reg=value`), its memory accesses on
 * the lines after. Register values come from the walk's model of each thread's registers: its
 * last sync, then every write; a value never seen since is `?`.
 */
export class InsnLines {
  private readonly walk: InsnWalk;
  private readonly texts = new Map<number, InsnText[]>();
  private readonly codeAt: Statement;

  constructor(db: TraceDb, private readonly arch: ArchName, private readonly decode: Decode | undefined) {
    this.walk = new InsnWalk(db, arch);
    this.codeAt = db.prepare('SELECT start, code FROM blocks WHERE start <= ? AND end > ? AND code IS NOT NULL ORDER BY id DESC LIMIT 1');
  }

  /** Whether the trace holds instruction records at all. */
  static present(db: TraceDb): boolean {
    return InsnWalk.present(db);
  }

  private layout(id: number): InsnText[] {
    let texts = this.texts.get(id);
    if (texts) return texts;
    const insns = this.walk.layout(id);
    const block = this.codeAt.get(insns[0].address, insns[0].address) as { start: number; code: Buffer } | undefined;
    texts = insns.map((i) => {
      const place = i.module === null ? `0x${i.address.toString(16)}` : `${i.module}+0x${i.offset!.toString(16)}`;
      const from = block === undefined ? -1 : i.address - block.start;
      const bytes = from >= 0 && from + i.size <= block!.code.length ? block!.code.subarray(from, from + i.size) : null;
      const decoded = bytes && this.decode ? this.decode(bytes, i.address)[0] : undefined;
      const text = decoded ? `${decoded.mnemonic}${decoded.opStr ? ` ${decoded.opStr}` : ''}` : bytes ? '(does not decode)' : '(no code was captured)';
      return {
        head: `[${place}] [${bytes?.toString('hex') ?? '??'}] 0x${i.address.toString(16)}: ${text}`,
        reads: decoded ? registersRead(this.arch, this.walk.registers, decoded.mnemonic, decoded.opStr) : [],
      };
    });
    this.texts.set(id, texts);
    return texts;
  }

  /** Lines of a thread's instructions with seq in [from, to). */
  lines(tid: number, from: number, to: number): string[] {
    const state = this.walk.stateAt(tid, from);
    const out: string[] = [];
    const names = this.walk.registers.names;
    for (const step of this.walk.steps(tid, from, to, state)) {
      const t = this.layout(step.layoutId)[step.index];
      const reads = t.reads.map((id) => `${names[id]}=${valueText(state.get(id))}`);
      const after = step.writes.map((w) => `${names[Number(w.reg)]}=${valueText(w.value ?? undefined)}`);
      out.push(`${t.head}${reads.length ? ` ; reads: ${reads.join(', ')}` : after.length ? ' ;' : ''}${after.length ? ` => ${after.join(', ')}` : ''}`);
      for (const m of step.mems) {
        out.push(`    m${m.access} ${hexU64(m.address)} [${m.size}] = ${m.value?.toString('hex') ?? '?'}${m.syscall_id !== null ? ` (written by the kernel in syscall ${m.syscall_id})` : ''}`);
      }
    }
    return out;
  }
}
