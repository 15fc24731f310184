// Instruction-level scenarios (--events insn) the insn tests share, with the values they assert.
import type { InsnStep, Scenario } from './scenario/scenario.js';
import { app } from './analysis-fixtures.js';

/**
 * x86_64, thread 7: a sync, layout 1 run twice (seq 0..3 and 4..7), read(0, 0x7200, 4) whose
 * return captured the buffer, layout 2 (the syscall instruction, seq 8), layout 3 (seq 9..10, its
 * rflags write not recorded). Then thread 8 runs layout 1 once (seq 11..14).
 */
export const x64Insns: Scenario = {
  events: ['call', 'ret', 'syscall', 'insn'],
  insnLayouts: [
    {
      id: 1, address: 0x401000,
      // mov rax, rbx; mov qword ptr [rsp], rax; mov rcx, qword ptr [rdi]; movups xmm0, xmmword ptr [rsi]
      code: [[0x48, 0x89, 0xd8], [0x48, 0x89, 0x04, 0x24], [0x48, 0x8b, 0x0f], [0x0f, 0x10, 0x06]],
      entries: [{ insn: 0, reg: 'rax' }, { insn: 1, write: 8 }, { insn: 2, read: 8 }, { insn: 2, reg: 'rcx' }, { insn: 3, read: 16 }, { insn: 3, reg: 'xmm0' }],
    },
    // syscall
    { id: 2, address: 0x401020, code: [[0x0f, 0x05]], entries: [{ insn: 0, reg: 'rax' }] },
    // mov rdx, qword ptr [rsi]; add rdx, 1
    {
      id: 3, address: 0x401022, code: [[0x48, 0x8b, 0x16], [0x48, 0x83, 0xc2, 0x01]],
      entries: [{ insn: 0, read: 8 }, { insn: 0, reg: 'rdx' }, { insn: 1, reg: 'rdx' }, { insn: 1, reg: 'rflags', unrecorded: true }],
    },
  ],
  steps: [{ load: app }, {
    thread: 7, insns: [
      { sync: { rbx: 0x1111, rdi: 0x7000, rsi: 0x7100, rsp: 0x7ff0, rip: 0x401000 }, at: 0x401000 },
      { run: 1, values: [0x1111, { address: 0x7ff0, bytes: [0x11, 0x11, 0, 0, 0, 0, 0, 0] }, { address: 0x7000, bytes: [1, 2, 3, 4, 5, 6, 7, 8] }, 0x0807060504030201n,
        { address: 0x7100, bytes: [...Array(16).keys()] }, [...Array(16).keys()]] },
      { run: 1, values: [0x2222, { address: 0x7ff0, bytes: [0x22, 0x22, 0, 0, 0, 0, 0, 0] }, { address: 0x7000, bytes: [8, 7, 6, 5, 4, 3, 2, 1] }, 0x0102030405060708n,
        { address: 0x7100, bytes: Array(16).fill(0xff) }, Array(16).fill(0xff)] },
      { syscall: { nr: 0, args: [0, 0x7200, 4], ret: 4, memory: [{ arg: 1, bytes: [0xde, 0xad, 0xbe, 0xef], atReturn: true }] }, at: 0x401020 },
      { run: 2, values: [4] },
      { run: 3, values: [{ address: 0x7200, bytes: [0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0] }, 0xefbeadde, 0xefbeaddf, 0] },
    ],
  }, {
    thread: 8, insns: [
      { run: 1, values: [0x3333, { address: 0x8ff0, bytes: [0x33, 0x33, 0, 0, 0, 0, 0, 0] }, { address: 0x8000, bytes: Array(8).fill(0) }, 0,
        { address: 0x8100, bytes: Array(16).fill(0) }, Array(16).fill(0)] },
    ],
  }],
};

const BASE = 0x555555554000;
/** The loop reads a table of 512 words and writes 512 results, round and round. */
export const TABLE = 0x7f0000100000;
export const OUT = 0x7f0000200000;
export const STACK = 0x7ffffffde000;
const WORDS = 512;

/** 64-bit xorshift: the table's contents, the same every run. */
function tableWords(): bigint[] {
  let x = 0x9e3779b97f4a7c15n;
  return Array.from({ length: WORDS }, () => {
    x ^= (x << 13n) & 0xffffffffffffffffn;
    x ^= x >> 7n;
    x ^= (x << 17n) & 0xffffffffffffffffn;
    return x;
  });
}

const le = (v: bigint, bytes: number) => Array.from({ length: bytes }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));

/**
 * x86_64. Layout 1, the loop (8 instructions, 6 register writes, a read and a write):
 *   mov rax, [rsi+rcx*8]; add rdx, rax; mov r8, rdx; shr r8, 3; mov [rdi+rcx*8], r8;
 *   inc rcx; and rcx, 0x1ff; jne loop
 * Every 64 iterations layout 2, a call's frame (6 instructions, stack traffic and a vector load):
 *   push rbp; mov rbp, rsp; movups xmm0, [rsi]; movzx eax, byte [rsi+rcx]; pop rbp; ret
 * and once per 4096 iterations a read(2) by layout 3 (the syscall instruction).
 */
export function insnLoopScenario(insns: number, threads = 1): Scenario {
  const words = tableWords();
  const outerRuns = Math.max(1, Math.round(insns / threads / (64 * 8 + 6)));
  const perStep = 64;
  const sums = new Map<number, bigint>();
  function* loop(tid: number, from: number, to: number): Generator<InsnStep> {
    let sum = sums.get(tid) ?? BigInt(tid) * 0x1000n;
    for (let outer = from; outer < to; outer++) {
      if (outer === 0) yield { sync: { rsi: TABLE, rdi: OUT, rsp: STACK, rip: BASE + 0x1000 }, at: BASE + 0x1000 };
      for (let i = 0; i < 64; i++) {
        const n = (outer * 64 + i) % WORDS;
        const value = words[n];
        sum = (sum + value) & 0xffffffffffffffffn;
        sums.set(tid, sum);
        const shifted = sum >> 3n;
        yield {
          run: 1, values: [
            { address: TABLE + n * 8, bytes: le(value, 8) }, value, sum, sum, shifted, { address: OUT + n * 8, bytes: le(shifted, 8) },
            BigInt(n + 1), BigInt((n + 1) % WORDS),
          ],
        };
      }
      const n = (outer * 64) % WORDS;
      yield {
        run: 2, values: [
          { address: STACK - 8, bytes: le(BigInt(STACK + 0x40), 8) }, BigInt(STACK - 8), BigInt(STACK - 8),
          { address: TABLE, bytes: [...le(words[0], 8), ...le(words[1], 8)] }, [...le(words[0], 8), ...le(words[1], 8)],
          { address: TABLE + n, bytes: [Number(words[n] & 0xffn)] }, words[n] & 0xffn,
          { address: STACK - 8, bytes: le(BigInt(STACK + 0x40), 8) }, BigInt(STACK + 0x40), BigInt(STACK),
          { address: STACK, bytes: le(BigInt(BASE + 0x1100), 8) }, BigInt(STACK + 8),
        ],
      };
      if (outer % 64 === 63) {
        yield { syscall: { nr: 0, args: [0, OUT, 8], ret: 8, memory: [{ arg: 1, bytes: le(BigInt(outer), 8), atReturn: true }] }, at: BASE + 0x1200 };
        yield { run: 3, values: [8n] };
      }
    }
  }
  const steps: Scenario['steps'] = [{
    load: { name: 'loop', base: BASE, size: 0x10000, functions: [{ name: 'main', offset: 0x1000, size: 0x100 }, { name: 'frame', offset: 0x1100, size: 0x100 }, { name: 'sys', offset: 0x1200, size: 0x10 }] },
  }];
  for (let from = 0; from < outerRuns; from += perStep) {
    for (let t = 0; t < threads; t++) steps.push({ thread: 3000 + t, insns: loop(3000 + t, from, Math.min(outerRuns, from + perStep)) });
  }
  return {
    events: ['syscall', 'insn'],
    chunkRecords: 16384,
    insnLayouts: [
      {
        id: 1, address: BASE + 0x1000,
        code: [[0x48, 0x8b, 0x04, 0xce], [0x48, 0x01, 0xc2], [0x49, 0x89, 0xd0], [0x49, 0xc1, 0xe8, 0x03], [0x4c, 0x89, 0x04, 0xcf],
          [0x48, 0xff, 0xc1], [0x48, 0x81, 0xe1, 0xff, 0x01, 0x00, 0x00], [0x75, 0xe0]],
        entries: [{ insn: 0, read: 8 }, { insn: 0, reg: 'rax' }, { insn: 1, reg: 'rdx' }, { insn: 2, reg: 'r8' }, { insn: 3, reg: 'r8' },
          { insn: 4, write: 8 }, { insn: 5, reg: 'rcx' }, { insn: 6, reg: 'rcx' }],
      },
      {
        id: 2, address: BASE + 0x1100,
        code: [[0x55], [0x48, 0x89, 0xe5], [0x0f, 0x10, 0x06], [0x0f, 0xb6, 0x04, 0x0e], [0x5d], [0xc3]],
        entries: [{ insn: 0, write: 8 }, { insn: 0, reg: 'rsp' }, { insn: 1, reg: 'rbp' }, { insn: 2, read: 16 }, { insn: 2, reg: 'xmm0' },
          { insn: 3, read: 1 }, { insn: 3, reg: 'rax' }, { insn: 4, read: 8 }, { insn: 4, reg: 'rbp' }, { insn: 4, reg: 'rsp' },
          { insn: 5, read: 8 }, { insn: 5, reg: 'rsp' }],
      },
      { id: 3, address: BASE + 0x1200, code: [[0x0f, 0x05]], entries: [{ insn: 0, reg: 'rax' }] },
    ],
    steps,
  };
}
