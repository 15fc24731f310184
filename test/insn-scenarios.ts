// Instruction-level scenarios (--events insn) the insn tests share, with the values they assert.
import type { Scenario } from './scenario/scenario.js';
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
