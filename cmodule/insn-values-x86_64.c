/*
 * x86_64: the values an instruction leaves for its insn record. Registers come from
 * cs_regs_access, folded to the full register (eax, ax, al -> rax; a VEX write of xmm -> xmm).
 * Memory comes from the operands, plus the stack slots push, pop, call, ret and leave touch
 * without naming them. A branch ends its block, so what it does is stored before it runs.
 */
#include "insn-values.h"

#include <string.h>

#define NOT_RECORDED 0xff
#define IGNORED 0xfe

/* The insnRegisters id of a register written, IGNORED for rip, NOT_RECORDED for registers the record has no id for. */
static uint8_t
full_register (unsigned r, uint16_t * bytes)
{
  *bytes = 8;
  switch (r)
  {
    case X86_REG_AL: case X86_REG_AH: case X86_REG_AX: case X86_REG_EAX: case X86_REG_RAX: return ST_REG_X64_RAX;
    case X86_REG_BL: case X86_REG_BH: case X86_REG_BX: case X86_REG_EBX: case X86_REG_RBX: return ST_REG_X64_RBX;
    case X86_REG_CL: case X86_REG_CH: case X86_REG_CX: case X86_REG_ECX: case X86_REG_RCX: return ST_REG_X64_RCX;
    case X86_REG_DL: case X86_REG_DH: case X86_REG_DX: case X86_REG_EDX: case X86_REG_RDX: return ST_REG_X64_RDX;
    case X86_REG_SIL: case X86_REG_SI: case X86_REG_ESI: case X86_REG_RSI: return ST_REG_X64_RSI;
    case X86_REG_DIL: case X86_REG_DI: case X86_REG_EDI: case X86_REG_RDI: return ST_REG_X64_RDI;
    case X86_REG_BPL: case X86_REG_BP: case X86_REG_EBP: case X86_REG_RBP: return ST_REG_X64_RBP;
    case X86_REG_SPL: case X86_REG_SP: case X86_REG_ESP: case X86_REG_RSP: return ST_REG_X64_RSP;
    case X86_REG_EFLAGS: return ST_REG_X64_RFLAGS;
    case X86_REG_RIP: case X86_REG_EIP: case X86_REG_IP: return IGNORED;
    default: break;
  }
  if (r >= X86_REG_R8 && r <= X86_REG_R15)
    return ST_REG_X64_R8 + (r - X86_REG_R8);
  if (r >= X86_REG_R8D && r <= X86_REG_R15D)
    return ST_REG_X64_R8 + (r - X86_REG_R8D);
  if (r >= X86_REG_R8W && r <= X86_REG_R15W)
    return ST_REG_X64_R8 + (r - X86_REG_R8W);
  if (r >= X86_REG_R8B && r <= X86_REG_R15B)
    return ST_REG_X64_R8 + (r - X86_REG_R8B);
  if (r >= X86_REG_XMM0 && r <= X86_REG_XMM15)
  {
    *bytes = ST_REG_X64_VECTOR_SIZE;
    return ST_REG_X64_VECTOR_BASE + (r - X86_REG_XMM0);
  }
  if (r >= X86_REG_YMM0 && r <= X86_REG_YMM15)
  {
    *bytes = ST_REG_X64_WIDE_SIZE;
    return ST_REG_X64_WIDE_BASE + (r - X86_REG_YMM0);
  }
  return NOT_RECORDED;
}

/* The 64-bit register whose value the emitter stores for id (what it reads after the instruction). */
static x86_reg
source_register (uint8_t id)
{
  static const x86_reg gprs[] = {
    X86_REG_RAX, X86_REG_RBX, X86_REG_RCX, X86_REG_RDX, X86_REG_RSI, X86_REG_RDI, X86_REG_RBP, X86_REG_RSP,
    X86_REG_R8, X86_REG_R9, X86_REG_R10, X86_REG_R11, X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15,
  };
  if (id < sizeof (gprs) / sizeof (gprs[0]))
    return gprs[id];
  if (id == ST_REG_X64_RFLAGS)
    return X86_REG_EFLAGS;
  if (id >= ST_REG_X64_WIDE_BASE)
    return X86_REG_YMM0 + (id - ST_REG_X64_WIDE_BASE);
  return X86_REG_XMM0 + (id - ST_REG_X64_VECTOR_BASE);
}

static int
is_string_op (unsigned id)
{
  switch (id)
  {
    case X86_INS_MOVSB: case X86_INS_MOVSW: case X86_INS_MOVSD: case X86_INS_MOVSQ:
    case X86_INS_STOSB: case X86_INS_STOSW: case X86_INS_STOSD: case X86_INS_STOSQ:
    case X86_INS_LODSB: case X86_INS_LODSW: case X86_INS_LODSD: case X86_INS_LODSQ:
    case X86_INS_CMPSB: case X86_INS_CMPSW: case X86_INS_CMPSD: case X86_INS_CMPSQ:
    case X86_INS_SCASB: case X86_INS_SCASW: case X86_INS_SCASD: case X86_INS_SCASQ:
      return 1;
    default:
      return 0;
  }
}

/* Instructions whose memory operand is only an address: nothing is read or written through it. */
static int
touches_no_memory (unsigned id)
{
  switch (id)
  {
    case X86_INS_LEA: case X86_INS_NOP:
    case X86_INS_PREFETCH: case X86_INS_PREFETCHNTA: case X86_INS_PREFETCHT0: case X86_INS_PREFETCHT1:
    case X86_INS_PREFETCHT2: case X86_INS_PREFETCHW:
      return 1;
    default:
      return 0;
  }
}

static int
is_gpr64 (x86_reg r)
{
  uint16_t bytes;
  uint8_t id = full_register (r, &bytes);
  return id < ST_REG_X64_RIP && source_register (id) == r;
}

/* Whether the emitter can compute the operand's address: 64-bit registers, and no segment but fs (TLS). */
static int
address_computable (const cs_x86_op * op)
{
  int segment_ok = op->mem.segment == X86_REG_INVALID || op->mem.segment == X86_REG_FS || op->mem.segment == X86_REG_ES ||
      op->mem.segment == X86_REG_DS || op->mem.segment == X86_REG_SS || op->mem.segment == X86_REG_CS;
  int base_ok = op->mem.base == X86_REG_INVALID || op->mem.base == X86_REG_RIP || is_gpr64 (op->mem.base);
  int index_ok = op->mem.index == X86_REG_INVALID || is_gpr64 (op->mem.index);
  return segment_ok && base_ok && index_ok;
}

/*
 * How the instruction accesses memory operand i. Capstone marks some stores of the move family
 * (movups, vmovups, movq to memory) as reads: a move with one memory operand writes it when it
 * is the destination and reads it otherwise.
 */
static uint8_t
memory_access (const cs_insn * insn, unsigned i)
{
  const cs_x86 * x86 = &insn->detail->x86;
  const char * m = insn->mnemonic;
  int move = strncmp (m, "mov", 3) == 0 || strncmp (m, "vmov", 4) == 0;
  if (move && x86->op_count == 2 && (x86->operands[0].type == X86_OP_MEM) != (x86->operands[1].type == X86_OP_MEM))
    return i == 0 ? CS_AC_WRITE : CS_AC_READ;
  return x86->operands[i].access;
}

static int
is_branch (unsigned id)
{
  return id == X86_INS_CALL || id == X86_INS_RET || id == X86_INS_LOOP || id == X86_INS_LOOPE || id == X86_INS_LOOPNE;
}

static void
add_memory (StInsnValue * values, unsigned * n, uint8_t what, uint16_t bytes, int16_t operand, int unseen)
{
  StInsnValue * v = st_insn_value_add (values, n, what, bytes, operand);
  /* x87's 10-byte values are not readable. */
  if (v != NULL && (unseen || !st_insn_value_readable (bytes)))
    v->flags = ST_INSN_VALUE_UNRECORDED;
}

unsigned
st_insn_values (csh capstone, const cs_insn * insn, int flags, StInsnValue * values)
{
  const cs_x86 * x86 = &insn->detail->x86;
  cs_regs read, written;
  uint8_t read_count, written_count;
  unsigned n = 0;
  unsigned i;
  int bulk = is_string_op (insn->id) && (x86->prefix[0] == X86_PREFIX_REP || x86->prefix[0] == X86_PREFIX_REPNE);
  int branch = is_branch (insn->id);
  uint64_t seen = 0;

  /* Memory first: the emitter computes addresses before the instruction changes its registers. */
  if (!touches_no_memory (insn->id))
  {
    for (i = 0; i != x86->op_count; i++)
    {
      const cs_x86_op * op = &x86->operands[i];
      if (op->type != X86_OP_MEM)
        continue;
      int computable = address_computable (op);
      int16_t operand = computable ? (int16_t) i : ST_ACCESS_UNKNOWN;
      uint8_t access = memory_access (insn, i);
      if ((access & CS_AC_READ) != 0)
        add_memory (values, &n, ST_INSN_VALUE_MEM_READ, op->size, operand, bulk || !computable);
      if ((access & CS_AC_WRITE) != 0)
        add_memory (values, &n, ST_INSN_VALUE_MEM_WRITE, op->size, operand, bulk || !computable);
    }
  }
  switch (insn->id)
  {
    case X86_INS_PUSH: case X86_INS_PUSHFQ:
      add_memory (values, &n, ST_INSN_VALUE_MEM_WRITE, 8, ST_ACCESS_PUSH, 0);
      break;
    case X86_INS_CALL:
    {
      StInsnValue * v = st_insn_value_add (values, &n, ST_INSN_VALUE_MEM_WRITE, 8, ST_ACCESS_PUSH);
      if (v != NULL)
      {
        v->before = 1;
        v->has_constant = 1;
        v->constant = insn->address + insn->size;
      }
      break;
    }
    case X86_INS_POP: case X86_INS_POPFQ: case X86_INS_RET:
      add_memory (values, &n, ST_INSN_VALUE_MEM_READ, 8, ST_ACCESS_POP, 0);
      break;
    case X86_INS_LEAVE:
      add_memory (values, &n, ST_INSN_VALUE_MEM_READ, 8, ST_ACCESS_LEAVE, 0);
      break;
    default:
      break;
  }

  if (insn->id == X86_INS_SYSCALL)
  {
    /* The kernel's result, and the return address and flags the instruction leaves in rcx and r11. */
    static const uint8_t results[] = { ST_REG_X64_RAX, ST_REG_X64_RCX, ST_REG_X64_R11 };
    for (i = 0; i != sizeof (results); i++)
    {
      StInsnValue * v = st_insn_value_add (values, &n, ST_INSN_VALUE_REG, 8, 0);
      v->reg = results[i];
      v->source = source_register (results[i]);
    }
    return n;
  }
  if (cs_regs_access (capstone, insn, read, &read_count, written, &written_count) != CS_ERR_OK)
    written_count = 0;
  for (i = 0; i != written_count; i++)
  {
    uint16_t bytes;
    uint8_t id = full_register (written[i], &bytes);
    StInsnValue * v;

    if (id == IGNORED || (id == ST_REG_X64_RFLAGS && !flags))
      continue;
    if (id == NOT_RECORDED)
    {
      /* x87, mask and segment registers, zmm: the record has no id for them, so they stay unseen. */
      v = st_insn_value_add (values, &n, ST_INSN_VALUE_REG, 0, 0);
      if (v != NULL)
        v->flags = ST_INSN_VALUE_UNRECORDED;
      continue;
    }
    /* A register written twice (ymm and its xmm half) is stored once, at its widest. */
    if (id < 64 && (seen & (1ull << id)) != 0)
      continue;
    if (id >= ST_REG_X64_WIDE_BASE)
      seen |= 1ull << (id - ST_REG_X64_WIDE_BASE + ST_REG_X64_VECTOR_BASE);
    seen |= 1ull << id;
    v = st_insn_value_add (values, &n, ST_INSN_VALUE_REG, bytes, 0);
    if (v == NULL)
      break;
    v->reg = id;
    v->source = source_register (id);
    if (branch)
    {
      /* What a call, ret or loop leaves in rsp or rcx follows from the registers before it. */
      v->before = 1;
      if (insn->id == X86_INS_CALL && id == ST_REG_X64_RSP)
        v->delta = -8;
      else if (insn->id == X86_INS_RET && id == ST_REG_X64_RSP)
        v->delta = 8 + (x86->op_count == 1 && x86->operands[0].type == X86_OP_IMM ? (int32_t) x86->operands[0].imm : 0);
      else if (id == ST_REG_X64_RCX)
        v->delta = -1;
      else
        v->flags = ST_INSN_VALUE_UNRECORDED;
    }
  }
  return n;
}

uint64_t
st_insn_registers_used (csh capstone, const cs_insn * insn)
{
  return st_insn_access_bits (capstone, insn, full_register);
}

