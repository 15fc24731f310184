import type { Statement } from 'better-sqlite3';
import type { ArchName } from '../schema/layout.generated.js';
import { registerSet, type RegisterSet } from '../model/registers.js';
import { RegisterState, type RegisterValue } from '../model/register-state.js';
import type { TraceDb } from '../store/database.js';
import type { Decode } from './disassembler.js';

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
  if (arch === 'x64' ? X64_WRITE_ONLY.test(mnemonic) && bare(operands[0]) : !ARM64_READS_FIRST.test(mnemonic) && bare(operands[0])) skip = 1;
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

const hex = (v: bigint | number) => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
const valueText = (v: RegisterValue | undefined) => v === undefined ? '?' : Buffer.isBuffer(v) ? v.toString('hex') : hex(v);

type Row = { seq: bigint; reg: bigint; value: bigint | Buffer | null };
type MemRow = { seq: bigint; access: string; address: bigint; size: bigint; value: Buffer | null; syscall_id: bigint | null };

/**
 * replay --regs: a thread's instructions as unidbg users read them, one line each
 * (`[module+0xoff] [bytes] 0xaddr: text ; reads: reg=value => reg=value`), its memory accesses on
 * the lines after. Register values come from a model of each thread's registers: its last sync,
 * then every write; a value never seen since is `?`.
 */
export class InsnLines {
  private readonly registers: RegisterSet;
  private readonly layouts = new Map<number, InsnText[]>();
  private readonly states = new Map<number, { state: RegisterState; at: number }>();
  private readonly runs: Statement;
  private readonly writes: Statement;
  private readonly mems: Statement;
  private readonly syncs: Statement;
  private readonly insnsOf: Statement;
  private readonly codeAt: Statement;

  constructor(db: TraceDb, private readonly arch: ArchName, private readonly decode: Decode | undefined) {
    this.registers = registerSet(arch);
    this.runs = db.prepare('SELECT seq, layout_id FROM insn_runs WHERE thread_id = ? AND seq >= ? AND seq < ? ORDER BY seq');
    this.writes = db.prepare('SELECT seq, reg, value FROM insn_reg_writes WHERE seq >= ? AND seq < ? ORDER BY seq').safeIntegers();
    this.mems = db.prepare('SELECT seq, access, address, size, value, syscall_id FROM mem_accesses WHERE seq >= ? AND seq < ? ORDER BY seq, rowid').safeIntegers();
    this.syncs = db.prepare(`SELECT seq, reg, value FROM insn_sync_values WHERE thread_id = @tid
      AND seq = (SELECT max(seq) FROM insn_syncs_at WHERE thread_id = @tid AND seq <= @seq)`).safeIntegers();
    this.insnsOf = db.prepare(`SELECT i.address, i.size, l.offset, m.name AS module FROM insn_layout_insns i JOIN locations l ON l.id = i.location_id
      LEFT JOIN modules m ON m.id = l.module_id WHERE i.layout_id = ? ORDER BY i.insn`);
    this.codeAt = db.prepare('SELECT start, code FROM blocks WHERE start <= ? AND end > ? AND code IS NOT NULL ORDER BY id DESC LIMIT 1');
  }

  /** Whether the trace holds instruction records at all. */
  static present(db: TraceDb): boolean {
    return db.prepare('SELECT 1 FROM insn_runs LIMIT 1').get() !== undefined;
  }

  private layout(id: number): InsnText[] {
    let texts = this.layouts.get(id);
    if (texts) return texts;
    const insns = this.insnsOf.all(id) as { address: number; size: number; offset: number | null; module: string | null }[];
    const block = this.codeAt.get(insns[0].address, insns[0].address) as { start: number; code: Buffer } | undefined;
    texts = insns.map((i) => {
      const place = i.module === null ? `0x${i.address.toString(16)}` : `${i.module}+0x${i.offset!.toString(16)}`;
      const from = block === undefined ? -1 : i.address - block.start;
      const bytes = from >= 0 && from + i.size <= block!.code.length ? block!.code.subarray(from, from + i.size) : null;
      const decoded = bytes && this.decode ? this.decode(bytes, i.address)[0] : undefined;
      const text = decoded ? `${decoded.mnemonic}${decoded.opStr ? ` ${decoded.opStr}` : ''}` : bytes ? '(does not decode)' : '(no code was captured)';
      return {
        head: `[${place}] [${bytes?.toString('hex') ?? '??'}] 0x${i.address.toString(16)}: ${text}`,
        reads: decoded ? registersRead(this.arch, this.registers, decoded.mnemonic, decoded.opStr) : [],
      };
    });
    this.layouts.set(id, texts);
    return texts;
  }

  /** A thread's register state just before instruction `seq`: from its last sync, then the writes after it. */
  private stateAt(tid: number, seq: number): RegisterState {
    const known = this.states.get(tid);
    if (known && known.at <= seq) return this.advance(tid, known.state, known.at, seq);
    const state = new RegisterState(this.registers);
    const rows = this.syncs.all({ tid, seq }) as Row[];
    this.sync(state, rows);
    return this.advance(tid, state, rows.length === 0 ? 0 : Number(rows[0].seq), seq);
  }

  private sync(state: RegisterState, rows: Row[]): void {
    state.sync(this.registers.sync.map((id) => rows.find((r) => Number(r.reg) === id)?.value as bigint | undefined));
  }

  /** Applies a thread's writes between two seqs, without printing. */
  private advance(tid: number, state: RegisterState, from: number, to: number): RegisterState {
    for (const run of this.runs.all(tid, from, to) as { seq: number; layout_id: number }[]) {
      for (const w of this.writes.all(run.seq, Math.min(to, run.seq + this.layout(run.layout_id).length)) as Row[]) state.write(Number(w.reg), w.value);
    }
    this.states.set(tid, { state, at: to });
    return state;
  }

  /** Lines of a thread's instructions with seq in [from, to). */
  lines(tid: number, from: number, to: number): string[] {
    const state = this.stateAt(tid, from);
    const out: string[] = [];
    const names = this.registers.names;
    for (const run of this.runs.all(tid, from, Number.isFinite(to) ? to : Number.MAX_SAFE_INTEGER) as { seq: number; layout_id: number }[]) {
      const texts = this.layout(run.layout_id);
      const end = run.seq + texts.length;
      const writes = this.writes.all(run.seq, end) as Row[];
      const mems = this.mems.all(run.seq, end) as MemRow[];
      const sync = this.syncs.all({ tid, seq: run.seq }) as Row[];
      if (sync.length > 0 && Number(sync[0].seq) === run.seq) this.sync(state, sync);
      texts.forEach((t, i) => {
        const seq = run.seq + i;
        const reads = t.reads.map((id) => `${names[id]}=${valueText(state.get(id))}`);
        const written = writes.filter((w) => Number(w.seq) === seq);
        for (const w of written) state.write(Number(w.reg), w.value);
        const after = written.map((w) => `${names[Number(w.reg)]}=${valueText(w.value ?? undefined)}`);
        out.push(`${t.head}${reads.length ? ` ; reads: ${reads.join(', ')}` : after.length ? ' ;' : ''}${after.length ? ` => ${after.join(', ')}` : ''}`);
        for (const m of mems.filter((r) => Number(r.seq) === seq)) {
          out.push(`    m${m.access} ${hex(m.address)} [${m.size}] = ${m.value?.toString('hex') ?? '?'}${m.syscall_id !== null ? ` (written by the kernel in syscall ${m.syscall_id})` : ''}`);
        }
      });
    }
    this.states.set(tid, { state, at: Number.isFinite(to) ? to : Number.MAX_SAFE_INTEGER });
    return out;
  }
}
