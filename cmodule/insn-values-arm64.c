/*
 * arm64: the values an instruction leaves for its insn record. Registers come from
 * cs_regs_access, folded to the full register (wN -> xN, w29/x29 -> fp, w30/x30 -> lr,
 * wsp -> sp, b/h/s/d/vN -> qN). Memory comes from a load's or store's one memory operand; arm64
 * operands carry no size, so it follows from the mnemonic and the registers transferred. A
 * pair (ldp, stp, ldxp, casp) or a vector list (ld1-ld4, st1-st4) is one access of all its
 * bytes, as they are contiguous; wider than a record value takes, it is unrecorded. A branch
 * ends its block, so what it does is stored before it runs: bl and blr leave lr = address + 4,
 * a constant (has_constant on a register entry).
 *
 * `before` follows the contract: a read's value is read from memory before the instruction, a
 * write's after it (emit-arm64.c), which holds for every form (ldr wzr, lanes, the atomics swp,
 * cas, ldadd, ...). Addresses come from the registers before the instruction; a writeback
 * (`ldr x0, [x1], #8`, `str x0, [sp, #-16]!`) also appears as a write of its base register.
 *
 * Capstone 4 gets some instructions wrong; each is corrected here:
 * cmp/cmn/tst list their first source as written; ld3/ld4 and three- or four-register ld1 list
 * only the first two registers; svc lists lr; msr lists its source register (and `msr daifset`
 * nzcv); memory operands' access bits are unreliable (str read|write, stxr read), so a memory
 * access's direction comes from the mnemonic. Capstone 4 decodes neither the LSE atomics nor
 * SVE nor pointer authentication; their rules here are from the architecture.
 */
#include "insn-values.h"

#define NOT_RECORDED 0xff
#define IGNORED 0xfe

/* msr's system register operand for nzcv: op0 3, op1 3, CRn 4, CRm 2, op2 0 (ARM64_SYSREG_NZCV in Capstone 5). */
#define SYSREG_NZCV 0xda10

enum { NO_ACCESS, LOAD, STORE, LOAD_STORE };

/* The insnRegisters id of a register written, IGNORED for xzr/wzr, NOT_RECORDED for registers the record has no id for. */
static uint8_t
full_register (unsigned r, uint16_t * bytes)
{
  *bytes = 8;
  switch (r)
  {
    case ARM64_REG_X29: return ST_REG_ARM64_FP;
    case ARM64_REG_X30: return ST_REG_ARM64_LR;
    case ARM64_REG_SP: case ARM64_REG_WSP: return ST_REG_ARM64_SP;
    case ARM64_REG_NZCV: return ST_REG_ARM64_NZCV;
    case ARM64_REG_XZR: case ARM64_REG_WZR: return IGNORED;
    default: break;
  }
  if (r >= ARM64_REG_X0 && r <= ARM64_REG_X28)
    return ST_REG_ARM64_X0 + (r - ARM64_REG_X0);
  /* w29 and w30 land on fp and lr. */
  if (r >= ARM64_REG_W0 && r <= ARM64_REG_W30)
    return ST_REG_ARM64_X0 + (r - ARM64_REG_W0);
  *bytes = ST_REG_ARM64_VECTOR_SIZE;
  if (r >= ARM64_REG_B0 && r <= ARM64_REG_B31)
    return ST_REG_ARM64_VECTOR_BASE + (r - ARM64_REG_B0);
  if (r >= ARM64_REG_H0 && r <= ARM64_REG_H31)
    return ST_REG_ARM64_VECTOR_BASE + (r - ARM64_REG_H0);
  if (r >= ARM64_REG_S0 && r <= ARM64_REG_S31)
    return ST_REG_ARM64_VECTOR_BASE + (r - ARM64_REG_S0);
  if (r >= ARM64_REG_D0 && r <= ARM64_REG_D31)
    return ST_REG_ARM64_VECTOR_BASE + (r - ARM64_REG_D0);
  if (r >= ARM64_REG_Q0 && r <= ARM64_REG_Q31)
    return ST_REG_ARM64_VECTOR_BASE + (r - ARM64_REG_Q0);
  if (r >= ARM64_REG_V0 && r <= ARM64_REG_V31)
    return ST_REG_ARM64_VECTOR_BASE + (r - ARM64_REG_V0);
  /* SVE z/p/ffr, SME za, ... */
  *bytes = 0;
  return NOT_RECORDED;
}

/* The register whose value the emitter stores for id (what it reads after the instruction). */
static arm64_reg
source_register (uint8_t id)
{
  switch (id)
  {
    case ST_REG_ARM64_FP: return ARM64_REG_X29;
    case ST_REG_ARM64_LR: return ARM64_REG_X30;
    case ST_REG_ARM64_SP: return ARM64_REG_SP;
    case ST_REG_ARM64_NZCV: return ARM64_REG_NZCV;
    default: break;
  }
  if (id >= ST_REG_ARM64_VECTOR_BASE)
    return ARM64_REG_Q0 + (id - ST_REG_ARM64_VECTOR_BASE);
  return ARM64_REG_X0 + (id - ST_REG_ARM64_X0);
}

static int
has_prefix (const char * s, const char * prefix)
{
  while (*prefix != '\0')
  {
    if (*s++ != *prefix++)
      return 0;
  }
  return 1;
}

static int
same (const char * a, const char * b)
{
  return has_prefix (a, b) && has_prefix (b, a);
}

/* Whether the mnemonic loads, stores, or both (the atomics); from A64's naming, the same in Capstone 4 and 5. */
static int
access_kind (const char * m)
{
  static const char * const atomics[] = { "add", "clr", "eor", "set", "smax", "smin", "umax", "umin" };
  /* MTE: allocation tags, not data. */
  static const char * const tags[] = { "ldg", "ldgm", "stg", "stzg", "st2g", "stz2g", "stgm", "stzgm" };
  unsigned i;

  if (has_prefix (m, "cas") || has_prefix (m, "swp"))
    return LOAD_STORE;
  if (!has_prefix (m, "ld") && !has_prefix (m, "st"))
    return NO_ACCESS;
  for (i = 0; i != sizeof (tags) / sizeof (tags[0]); i++)
  {
    if (same (m, tags[i]))
      return NO_ACCESS;
  }
  for (i = 0; i != sizeof (atomics) / sizeof (atomics[0]); i++)
  {
    if (has_prefix (m + 2, atomics[i]))
      return LOAD_STORE;
  }
  return m[0] == 'l' ? LOAD : STORE;
}

/* Bytes per register a sized mnemonic moves (ldrb, stlxrh, casab, ldrsw, ldpsw, ...); 0: the register's width. */
static unsigned
mnemonic_bytes (const char * m)
{
  unsigned n = 0;
  while (m[n] != '\0')
    n++;
  /* ldraa, ldrab: pointer authentication, not sizes. */
  if (n < 2 || has_prefix (m, "ldra"))
    return 0;
  if (m[n - 2] == 's' && m[n - 1] == 'w')
    return 4;
  if (m[n - 1] == 'b')
    return 1;
  if (m[n - 1] == 'h')
    return 2;
  return 0;
}

/* An element of a vector arrangement or lane (v0.4s, v0.s[1]); 0 when none is given. */
static unsigned
element_bytes (const cs_arm64_op * op)
{
  switch (op->vas)
  {
    case ARM64_VAS_16B: case ARM64_VAS_8B: return 1;
    case ARM64_VAS_8H: case ARM64_VAS_4H: return 2;
    case ARM64_VAS_4S: case ARM64_VAS_2S: return 4;
    case ARM64_VAS_2D: case ARM64_VAS_1D: return 8;
    case ARM64_VAS_1Q: return 16;
#if CS_API_MAJOR >= 5
    /* Capstone 5 gives a lane a one-element arrangement. */
    case ARM64_VAS_4B: case ARM64_VAS_1B: return 1;
    case ARM64_VAS_2H: case ARM64_VAS_1H: return 2;
    case ARM64_VAS_1S: return 4;
#endif
    default: break;
  }
#if CS_API_MAJOR < 5
  /* Capstone 4 gives a lane an element size instead. */
  switch (op->vess)
  {
    case ARM64_VESS_B: return 1;
    case ARM64_VESS_H: return 2;
    case ARM64_VESS_S: return 4;
    case ARM64_VESS_D: return 8;
    default: break;
  }
#endif
  return 0;
}

/* The bytes a transfer register moves: its width, a vector's arrangement (8 or 16 bytes), or 0 (SVE, unknown). */
static unsigned
register_bytes (const cs_arm64_op * op, int elements)
{
  arm64_reg r = op->reg;
  uint16_t ignored;
  if ((r >= ARM64_REG_W0 && r <= ARM64_REG_W30) || r == ARM64_REG_WZR || r == ARM64_REG_WSP)
    return 4;
  if (r >= ARM64_REG_B0 && r <= ARM64_REG_B31)
    return 1;
  if (r >= ARM64_REG_H0 && r <= ARM64_REG_H31)
    return 2;
  if (r >= ARM64_REG_S0 && r <= ARM64_REG_S31)
    return 4;
  if (r >= ARM64_REG_D0 && r <= ARM64_REG_D31)
    return 8;
  if (r >= ARM64_REG_Q0 && r <= ARM64_REG_Q31)
    return 16;
  if (r >= ARM64_REG_V0 && r <= ARM64_REG_V31)
  {
    /* A lane, a replicated element, or a whole arrangement: 8B, 4H, 2S and 1D are 64 bits, the others 128. */
    if (elements || op->vector_index >= 0 || op->vas == ARM64_VAS_INVALID)
      return element_bytes (op);
    return (op->vas == ARM64_VAS_8B || op->vas == ARM64_VAS_4H || op->vas == ARM64_VAS_2S || op->vas == ARM64_VAS_1D) ? 8 : 16;
  }
  return full_register (r, &ignored) == NOT_RECORDED ? 0 : 8;
}

static int
is_exclusive_store (unsigned id)
{
  switch (id)
  {
    case ARM64_INS_STXR: case ARM64_INS_STXRB: case ARM64_INS_STXRH: case ARM64_INS_STXP:
    case ARM64_INS_STLXR: case ARM64_INS_STLXRB: case ARM64_INS_STLXRH: case ARM64_INS_STLXP:
      return 1;
    default:
      return 0;
  }
}

/* ld1r-ld4r: each register gets one element, replicated. */
static int
is_replicating (const char * m)
{
  return m[0] == 'l' && m[1] == 'd' && m[2] >= '1' && m[2] <= '4' && m[3] == 'r' && m[4] == '\0';
}

/*
 * The operand holding the access's address: the memory operand, or for a literal load
 * (`ldr x0, label`) the immediate Capstone resolves to the literal's address. -1: none.
 */
static int
address_operand (const cs_arm64 * arm64, int kind)
{
  int i, literal = -1;
  for (i = 0; i != arm64->op_count; i++)
  {
    if (arm64->operands[i].type == ARM64_OP_MEM)
      return i;
    if (arm64->operands[i].type == ARM64_OP_IMM && literal < 0)
      literal = i;
  }
  return kind == LOAD ? literal : -1;
}

/*
 * The bytes an access moves: the registers before the address operand (less a store-exclusive's
 * status register), each as wide as the mnemonic or the register says. An atomic moves one
 * register's worth (casp two), whichever of its registers is named first. 0: unknown (SVE).
 */
static unsigned
access_bytes (const cs_insn * insn, int kind, int address)
{
  const cs_arm64 * arm64 = &insn->detail->arm64;
  int first = is_exclusive_store (insn->id) ? 1 : 0;
  int elements = is_replicating (insn->mnemonic);
  unsigned sized = mnemonic_bytes (insn->mnemonic);
  unsigned total = 0;
  int i;

  for (i = first; i < address; i++)
  {
    const cs_arm64_op * op = &arm64->operands[i];
    unsigned bytes;
    if (op->type != ARM64_OP_REG)
      continue;
    bytes = register_bytes (op, elements);
    if (bytes == 0)
      return 0;
    total += sized != 0 ? sized : bytes;
    if (kind == LOAD_STORE)
      return has_prefix (insn->mnemonic, "casp") ? 2 * total : total;
  }
  return total;
}

static void
add_memory (StInsnValue * values, unsigned * n, uint8_t what, uint16_t bytes, int16_t operand)
{
  StInsnValue * v = st_insn_value_add (values, n, what, bytes, operand);
  /* Wider than a record value (ld1 of three registers), or unknown (0: SVE). */
  if (v != NULL && !st_insn_value_readable (bytes))
    v->flags = ST_INSN_VALUE_UNRECORDED;
}

/* A register the record has no id for (a system register, SVE's): its write is noted, unseen. */
static void
add_unrecorded_register (StInsnValue * values, unsigned * n)
{
  StInsnValue * v = st_insn_value_add (values, n, ST_INSN_VALUE_REG, 0, 0);
  if (v != NULL)
    v->flags = ST_INSN_VALUE_UNRECORDED;
}

/* Adds the write of `r` once (seen: ids already added); a branch's is stored before it, lr as the return address. */
static void
add_register (StInsnValue * values, unsigned * n, const cs_insn * insn, arm64_reg r, int flags, int branch, uint64_t seen[2])
{
  uint16_t bytes;
  uint8_t id = full_register (r, &bytes);
  StInsnValue * v;

  if (id == IGNORED || (id == ST_REG_ARM64_NZCV && !flags))
    return;
  if (id == NOT_RECORDED)
  {
    add_unrecorded_register (values, n);
    return;
  }
  if ((seen[id / 64] & (1ull << (id % 64))) != 0)
    return;
  seen[id / 64] |= 1ull << (id % 64);
  v = st_insn_value_add (values, n, ST_INSN_VALUE_REG, bytes, 0);
  if (v == NULL)
    return;
  v->reg = id;
  v->source = source_register (id);
  if (branch)
  {
    v->before = 1;
    if (id == ST_REG_ARM64_LR)
    {
      v->has_constant = 1;
      v->constant = insn->address + 4;
    }
    else
    {
      v->flags = ST_INSN_VALUE_UNRECORDED;
    }
  }
}

unsigned
st_insn_values (csh capstone, const cs_insn * insn, int flags, StInsnValue * values)
{
  const cs_arm64 * arm64 = &insn->detail->arm64;
  int kind = access_kind (insn->mnemonic);
  int address = address_operand (arm64, kind);
  int branch = st_insn_is_branch (capstone, insn);
  int compare = insn->id == ARM64_INS_CMP || insn->id == ARM64_INS_CMN || insn->id == ARM64_INS_TST;
  uint64_t seen[2] = { 0, 0 };
  cs_regs read, written;
  uint8_t read_count, written_count;
  unsigned n = 0;
  int i;

  /* Memory first: the emitter computes addresses before the instruction changes its registers. */
  if (kind != NO_ACCESS && address >= 0)
  {
    uint16_t bytes = (uint16_t) access_bytes (insn, kind, address);
    if (kind != STORE)
      add_memory (values, &n, ST_INSN_VALUE_MEM_READ, bytes, (int16_t) address);
    if (kind != LOAD)
      add_memory (values, &n, ST_INSN_VALUE_MEM_WRITE, bytes, (int16_t) address);
  }

  if (insn->id == ARM64_INS_SVC)
  {
    /* The kernel's result. */
    StInsnValue * v = st_insn_value_add (values, &n, ST_INSN_VALUE_REG, 8, 0);
    v->reg = ST_REG_ARM64_X0;
    v->source = ARM64_REG_X0;
    return n;
  }
  if (insn->id == ARM64_INS_MSR)
  {
    /* A system register or PSTATE field; nzcv the only one the record has an id for. */
    const cs_arm64_op * op = &arm64->operands[0];
    if (op->type == ARM64_OP_REG_MSR && (unsigned) op->reg == SYSREG_NZCV)
      add_register (values, &n, insn, ARM64_REG_NZCV, flags, 0, seen);
    else
      add_unrecorded_register (values, &n);
    return n;
  }

  if (cs_regs_access (capstone, insn, read, &read_count, written, &written_count) != CS_ERR_OK)
    written_count = 0;
  for (i = 0; i != written_count; i++)
  {
    if (compare && written[i] != ARM64_REG_NZCV)
      continue;
    add_register (values, &n, insn, written[i], flags, branch, seen);
  }
  /* Every register a load transfers, and the base a writeback moves, whether listed or not. */
  if (kind == LOAD)
  {
    for (i = 0; i < address; i++)
    {
      if (arm64->operands[i].type == ARM64_OP_REG)
        add_register (values, &n, insn, arm64->operands[i].reg, flags, branch, seen);
    }
  }
  if (arm64->writeback && address >= 0 && arm64->operands[address].type == ARM64_OP_MEM)
    add_register (values, &n, insn, arm64->operands[address].mem.base, flags, branch, seen);
  return n;
}

/* Capstone's access lists, and every register an operand names, as the lists miss some (ld3's, addresses'). */
uint64_t
st_insn_registers_used (csh capstone, const cs_insn * insn)
{
  const cs_arm64 * arm64 = &insn->detail->arm64;
  uint64_t used = st_insn_access_bits (capstone, insn, full_register);
  unsigned i;

  for (i = 0; i != arm64->op_count; i++)
  {
    const cs_arm64_op * op = &arm64->operands[i];
    arm64_reg regs[2] = { op->reg, ARM64_REG_INVALID };
    unsigned k;
    if (op->type == ARM64_OP_MEM)
    {
      regs[0] = op->mem.base;
      regs[1] = op->mem.index;
    }
    else if (op->type != ARM64_OP_REG)
    {
      continue;
    }
    for (k = 0; k != 2; k++)
    {
      uint16_t bytes;
      uint8_t id = full_register (regs[k], &bytes);
      if (id < 64)
        used |= (uint64_t) 1 << id;
    }
  }
  return used;
}
