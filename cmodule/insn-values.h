/*
 * --events insn: what one instruction leaves for the record, decided at compile time from
 * Capstone's operands and register access lists: the registers it writes (values after it
 * ran) and the memory it reads or writes (address, and value before a read, after a write).
 * Per architecture (insn-values-x86_64.c, insn-values-arm64.c); needs only Capstone, so the
 * native tests check it on real encodings (no GLib here, for the same reason).
 */
#ifndef STALK_TRACE_INSN_VALUES_H
#define STALK_TRACE_INSN_VALUES_H

#include <capstone.h>
#include <stdint.h>
#include "layout.generated.h"

#define ST_INSN_MAX_VALUES 24

/* Memory accesses that no operand names: the stack slot a push writes, the one a pop reads, leave's. */
#define ST_ACCESS_PUSH (-1)
#define ST_ACCESS_POP (-2)
#define ST_ACCESS_LEAVE (-3)
/* An operand whose address the emitter cannot compute (gs-relative, 32-bit registers): stored as 0, its value unrecorded. */
#define ST_ACCESS_UNKNOWN (-4)

typedef struct _StInsnValue StInsnValue;
struct _StInsnValue
{
  /* ST_INSN_VALUE_REG, _MEM_READ or _MEM_WRITE. */
  uint8_t what;
  /* what = reg: the register's insnRegisters id. */
  uint8_t reg;
  /* ST_INSN_VALUE_UNRECORDED: the record holds no value (a memory access keeps its address). */
  uint8_t flags;
  /*
   * Stored before the instruction runs: a read's value, and what a branch does, since nothing
   * after a branch runs in its block (the value is then `source` plus `delta`, or `constant`).
   */
  uint8_t before;
  uint16_t bytes;
  /* Memory: the operand's index in Capstone's detail, or an ST_ACCESS_* implicit access. */
  int16_t operand;
  /* Capstone's register that holds the value (what = reg). */
  uint32_t source;
  int32_t delta;
  /*
   * A value known at compile time, when `has_constant`: a call's return address, in the stack
   * slot it pushes (x86_64, a memory entry) or in lr (arm64, a register entry, `before`).
   */
  int has_constant;
  uint64_t constant;
  /* Where its bytes start in the insn record's payload: set when its instruction joins a run. */
  uint16_t offset;
};

/*
 * Fills `values` (at most ST_INSN_MAX_VALUES) for `insn`, decoded with details on by `capstone`;
 * returns how many. `flags`: whether writes of the flags register are wanted.
 */
unsigned st_insn_values (csh capstone, const cs_insn * insn, int flags, StInsnValue * values);

/* Bit per insnRegisters id (below 64) of every register the instruction reads or writes, addresses included; all bits when Capstone cannot say. */
uint64_t st_insn_registers_used (csh capstone, const cs_insn * insn);

/*
 * For insn-values-<arch>.c: the bits (insnRegisters ids below 64) of the registers Capstone's
 * access lists name, `full_register` giving a register's id; all bits when Capstone cannot say.
 */
static inline uint64_t
st_insn_access_bits (csh capstone, const cs_insn * insn, uint8_t (* full_register) (unsigned reg, uint16_t * bytes))
{
  cs_regs read, written;
  uint8_t read_count, written_count;
  uint64_t used = 0;
  unsigned i;

  if (cs_regs_access (capstone, insn, read, &read_count, written, &written_count) != CS_ERR_OK)
    return ~(uint64_t) 0;
  for (i = 0; i != (unsigned) read_count + written_count; i++)
  {
    uint16_t bytes;
    uint8_t id = full_register (i < read_count ? read[i] : written[i - read_count], &bytes);
    if (id < 64)
      used |= (uint64_t) 1 << id;
  }
  return used;
}

/* A jump, call or return: it ends its block, and nothing placed after it runs there. */
static inline int
st_insn_is_branch (csh capstone, const cs_insn * insn)
{
  return cs_insn_group (capstone, insn, CS_GRP_JUMP) || cs_insn_group (capstone, insn, CS_GRP_CALL) ||
      cs_insn_group (capstone, insn, CS_GRP_RET);
}

/* Bytes the value takes in an insn record: 8-byte multiples; a memory access's address first. */
static inline unsigned
st_insn_value_size (const StInsnValue * v)
{
  unsigned value = (v->flags & ST_INSN_VALUE_UNRECORDED) != 0 ? 0 : (v->bytes + 7u) & ~7u;
  return v->what == ST_INSN_VALUE_REG ? value : 8 + value;
}

/* For insn-values-<arch>.c: appends a value to `values` (n so far), NULL when full. A read's is stored before. */
static inline StInsnValue *
st_insn_value_add (StInsnValue * values, unsigned * n, uint8_t what, uint16_t bytes, int16_t operand)
{
  StInsnValue * v;
  if (*n == ST_INSN_MAX_VALUES)
    return NULL;
  v = &values[(*n)++];
  v->what = what;
  v->reg = 0;
  v->flags = 0;
  v->before = what == ST_INSN_VALUE_MEM_READ;
  v->bytes = bytes;
  v->operand = operand;
  v->source = 0;
  v->delta = 0;
  v->has_constant = 0;
  v->constant = 0;
  return v;
}

/* Whether the emitter can copy a memory value of `bytes`: 1, 2, 4 or 8 at once, or 8-byte words a record value holds. */
static inline int
st_insn_value_readable (unsigned bytes)
{
  return bytes == 1 || bytes == 2 || bytes == 4 || (bytes % 8 == 0 && bytes != 0 && bytes <= ST_INSN_MAX_VALUE_BYTES);
}

#endif
