/*
 * arm64 inline writer. The emitted code moves sp below the red zone with its first store,
 * saves x14-x17, and uses no flag-setting instruction (cbz tests the window). The write
 * position is published with a store-release, so the drain thread never sees a position ahead
 * of the record it covers. Targets lose their top 16 bits (tags, pointer authentication).
 */
#include "emit.h"
#include "syscalls.generated.h"

/* sp at the instruction, from inside the prologue: the frame below the 128-byte red zone. */
#define FRAME 176
#define SLOT_X16 0
#define SLOT_X17 8
#define SLOT_X14 16
#define SLOT_X15 24
#define SLOT_LR 32


StInsnKind
st_classify (const cs_insn * insn)
{
  switch (insn->id)
  {
    case ARM64_INS_BL:
    case ARM64_INS_BLR:
    case ARM64_INS_BLRAA:
    case ARM64_INS_BLRAAZ:
    case ARM64_INS_BLRAB:
    case ARM64_INS_BLRABZ:
      return ST_INSN_CALL;
    case ARM64_INS_RET:
    case ARM64_INS_RETAA:
    case ARM64_INS_RETAB:
      return ST_INSN_RET;
    case ARM64_INS_SVC:
      return ST_INSN_SYSCALL;
    case ARM64_INS_LDXR: case ARM64_INS_LDXRB: case ARM64_INS_LDXRH: case ARM64_INS_LDXP:
    case ARM64_INS_LDAXR: case ARM64_INS_LDAXRB: case ARM64_INS_LDAXRH: case ARM64_INS_LDAXP:
      return ST_INSN_EXCLUSIVE_LOAD;
    case ARM64_INS_STXR: case ARM64_INS_STXRB: case ARM64_INS_STXRH: case ARM64_INS_STXP:
    case ARM64_INS_STLXR: case ARM64_INS_STLXRB: case ARM64_INS_STLXRH: case ARM64_INS_STLXP:
    case ARM64_INS_CLREX:
      return ST_INSN_EXCLUSIVE_END;
    default:
      return ST_INSN_OTHER;
  }
}

/*
 * A syscall, run here rather than by Stalker. Stalker (Frida 17) puts the path a clone's child
 * takes on a page of its own, padding with up to 8 KB of code for one svc where it keeps 2 KB of
 * room, and overruns its code slab into the next (seen here as its slab list overwritten with
 * code); it also leaves the child of a clone3 (glibc's pthread_create) in the parent's code. As
 * Stalker does for clone, the child of either leaves for the original code after the svc,
 * unfollowed (the agent follows new threads itself), with x17, a scratch register, clobbered.
 */
static void
put_syscall (GumArm64Writer * cw, const cs_insn * insn)
{
  gconstpointer parent = cw->code + 1;
  gconstpointer child = cw->code + 2;

  gum_arm64_writer_put_bytes (cw, insn->bytes, insn->size);
  gum_arm64_writer_put_cbnz_reg_label (cw, ARM64_REG_X0, parent);
  /* x0 is 0: the child of a clone, or any syscall that returned 0. x0 tells which, and is 0 again after. */
  gum_arm64_writer_put_sub_reg_reg_imm (cw, ARM64_REG_X0, ARM64_REG_X8, ST_SYS_CLONE);
  gum_arm64_writer_put_cbz_reg_label (cw, ARM64_REG_X0, child);
  gum_arm64_writer_put_sub_reg_reg_imm (cw, ARM64_REG_X0, ARM64_REG_X8, ST_SYS_CLONE3);
  gum_arm64_writer_put_cbz_reg_label (cw, ARM64_REG_X0, child);
  gum_arm64_writer_put_mov_reg_reg (cw, ARM64_REG_X0, ARM64_REG_XZR);
  gum_arm64_writer_put_b_label (cw, parent);
  gum_arm64_writer_put_label (cw, child);
  gum_arm64_writer_put_mov_reg_reg (cw, ARM64_REG_X0, ARM64_REG_XZR);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X17, insn->address + insn->size);
  gum_arm64_writer_put_br_reg_no_auth (cw, ARM64_REG_X17);
  gum_arm64_writer_put_label (cw, parent);
}

/*
 * Gum strips pointer authentication codes only on Apple's arm64e: on arm64 Linux and Android a
 * retaa or retab first authenticates the link register as the return itself would (autiasp,
 * autibsp), and Stalker returns to the plain address.
 */
void
st_keep (GumStalkerIterator * iterator, GumStalkerOutput * output, const cs_insn * insn, StInsnKind kind)
{
  GumArm64Writer * cw = output->writer.arm64;

  if (kind == ST_INSN_SYSCALL)
  {
    put_syscall (cw, insn);
    return;
  }
  if (insn->id == ARM64_INS_RETAA)
    gum_arm64_writer_put_instruction (cw, 0xd50323bf); /* autiasp */
  else if (insn->id == ARM64_INS_RETAB)
    gum_arm64_writer_put_instruction (cw, 0xd50323ff); /* autibsp */
  gum_stalker_iterator_keep (iterator);
}

guint64
st_direct_call_target (const cs_insn * insn)
{
  const cs_arm64_op * op = &insn->detail->arm64.operands[0];
  return (insn->id == ARM64_INS_BL && op->type == ARM64_OP_IMM) ? (guint64) op->imm : 0;
}

/* movz/movk for the low 48 bits: three fixed instructions, so a value can be patched in later. */
static void
put_mov_u48 (GumArm64Writer * cw, guint rd, guint64 value)
{
  guint hw;
  for (hw = 0; hw != 3; hw++)
  {
    guint32 opcode = (hw == 0) ? 0xd2800000 : 0xf2800000; /* movz : movk, 64-bit */
    gum_arm64_writer_put_instruction (cw, opcode | (hw << 21) | ((guint32) ((value >> (16 * hw)) & 0xffff) << 5) | rd);
  }
}

static void
patch_mov_u48 (guint32 * code, guint64 value)
{
  guint hw;
  for (hw = 0; hw != 3; hw++)
    code[hw] = (code[hw] & ~(0xffffu << 5)) | ((guint32) ((value >> (16 * hw)) & 0xffff) << 5);
}

static void
prologue (GumArm64Writer * cw)
{
  gum_arm64_writer_put_stp_reg_reg_reg_offset (cw, ARM64_REG_X16, ARM64_REG_X17, ARM64_REG_SP, -FRAME, GUM_INDEX_PRE_ADJUST);
  gum_arm64_writer_put_stp_reg_reg_reg_offset (cw, ARM64_REG_X14, ARM64_REG_X15, ARM64_REG_SP, SLOT_X14, GUM_INDEX_SIGNED_OFFSET);
}

static void
epilogue (GumArm64Writer * cw)
{
  gum_arm64_writer_put_ldp_reg_reg_reg_offset (cw, ARM64_REG_X14, ARM64_REG_X15, ARM64_REG_SP, SLOT_X14, GUM_INDEX_SIGNED_OFFSET);
  gum_arm64_writer_put_ldp_reg_reg_reg_offset (cw, ARM64_REG_X16, ARM64_REG_X17, ARM64_REG_SP, FRAME, GUM_INDEX_POST_ADJUST);
}

/* x15 = the value `reg` had at the instruction. */
static void
load_original (GumArm64Writer * cw, arm64_reg reg)
{
  switch (reg)
  {
    case ARM64_REG_X14: gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_SP, SLOT_X14); break;
    case ARM64_REG_X15: gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_SP, SLOT_X15); break;
    case ARM64_REG_X16: gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_SP, SLOT_X16); break;
    case ARM64_REG_X17: gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_SP, SLOT_X17); break;
    default: gum_arm64_writer_put_mov_reg_reg (cw, ARM64_REG_X15, reg); break;
  }
}

/* A slot of the prologue's frame free for the target while the refill stub runs. */
#define SLOT_TARGET 40

/*
 * With the target in x15: writes the record and restores what the prologue saved. A call
 * (call_length != 0) takes a second slot: the stack pointer at the call and the call's length.
 * Records never straddle blocks: when a two-slot record meets a window with one slot left, the
 * refill stub ends the block there first.
 */
static void
write_record (GumArm64Writer * cw, StRing * ring, guint64 word0, guint call_length)
{
  gconstpointer refill = cw->code;
  gconstpointer restore = cw->code + 1;
  gconstpointer done = cw->code + 2;
  gconstpointer make_room = cw->code + 3;
  gconstpointer room = cw->code + 4;
  guint size = call_length != 0 ? 2 * ST_SLOT_SIZE : ST_SLOT_SIZE;

  gum_arm64_writer_put_and_reg_reg_imm (cw, ARM64_REG_X15, ARM64_REG_X15, ST_ADDRESS_MASK);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X16, GUM_ADDRESS (ring));
  gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X17, ARM64_REG_X16, G_STRUCT_OFFSET (StRing, recording));
  gum_arm64_writer_put_cbz_reg_label (cw, ARM64_REG_X17, restore);
  if (call_length != 0)
  {
    gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X17, ARM64_REG_X16, G_STRUCT_OFFSET (StRing, remaining));
    gum_arm64_writer_put_sub_reg_reg_imm (cw, ARM64_REG_X17, ARM64_REG_X17, ST_SLOT_SIZE);
    gum_arm64_writer_put_cbz_reg_label (cw, ARM64_REG_X17, make_room);
    gum_arm64_writer_put_label (cw, room);
  }
  gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X17, ARM64_REG_X16, G_STRUCT_OFFSET (StRing, cur));
  gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_X17, ST_TARGET_WORD_AT);
  gum_arm64_writer_put_ldr_reg_u64 (cw, ARM64_REG_X15, word0);
  gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_X17, ST_WORD0_AT);
  if (call_length != 0)
  {
    gum_arm64_writer_put_add_reg_reg_imm (cw, ARM64_REG_X15, ARM64_REG_SP, FRAME);
    gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_X17, ST_SLOT_SIZE + ST_PAYLOAD_CALL_SP);
    gum_arm64_writer_put_ldr_reg_u64 (cw, ARM64_REG_X15, call_length);
    gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_X17, ST_SLOT_SIZE + ST_PAYLOAD_CALL_LENGTH);
  }
  gum_arm64_writer_put_add_reg_reg_imm (cw, ARM64_REG_X17, ARM64_REG_X17, size);
  /* stlr x17, [x16]: cur is the ring's first field (ring.h checks it). */
  gum_arm64_writer_put_instruction (cw, 0xc89ffc00 | (16 << 5) | 17);
  gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_X16, G_STRUCT_OFFSET (StRing, remaining));
  gum_arm64_writer_put_sub_reg_reg_imm (cw, ARM64_REG_X15, ARM64_REG_X15, size);
  gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_X16, G_STRUCT_OFFSET (StRing, remaining));
  gum_arm64_writer_put_cbz_reg_label (cw, ARM64_REG_X15, refill);
  gum_arm64_writer_put_label (cw, restore);
  epilogue (cw);
  gum_arm64_writer_put_b_label (cw, done);
  gum_arm64_writer_put_label (cw, refill);
  gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_LR, ARM64_REG_SP, SLOT_LR);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X17, GUM_ADDRESS (st_globals.gates->refill_stub));
  gum_arm64_writer_put_blr_reg_no_auth (cw, ARM64_REG_X17);
  gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_LR, ARM64_REG_SP, SLOT_LR);
  gum_arm64_writer_put_b_label (cw, restore);
  if (call_length != 0)
  {
    /* One slot left: end the block there first; the stub may change x14-x17, so the target waits on the stack. */
    gum_arm64_writer_put_label (cw, make_room);
    gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_LR, ARM64_REG_SP, SLOT_LR);
    gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_SP, SLOT_TARGET);
    gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X17, GUM_ADDRESS (st_globals.gates->refill_stub));
    gum_arm64_writer_put_blr_reg_no_auth (cw, ARM64_REG_X17);
    gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_LR, ARM64_REG_SP, SLOT_LR);
    gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X15, ARM64_REG_SP, SLOT_TARGET);
    gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X16, GUM_ADDRESS (ring));
    gum_arm64_writer_put_b_label (cw, room);
  }
  gum_arm64_writer_put_label (cw, done);
}

void
st_emit_call (GumStalkerOutput * output, StRing * ring, const cs_insn * insn)
{
  GumArm64Writer * cw = output->writer.arm64;
  const cs_arm64_op * op = &insn->detail->arm64.operands[0];
  prologue (cw);
  if (op->type == ARM64_OP_IMM)
    put_mov_u48 (cw, 15, (guint64) op->imm);
  else
    load_original (cw, op->reg);
  write_record (cw, ring, st_record_word0 (insn->address, ST_KIND_CALL, 1), insn->size);
}

void
st_emit_ret (GumStalkerOutput * output, StRing * ring, const cs_insn * insn)
{
  GumArm64Writer * cw = output->writer.arm64;
  prologue (cw);
  load_original (cw, insn->detail->arm64.op_count > 0 ? insn->detail->arm64.operands[0].reg : ARM64_REG_LR);
  write_record (cw, ring, st_record_word0 (insn->address, ST_KIND_RET, 0), 0);
}

void
st_emit_exec (GumStalkerOutput * output, StRing * ring, const cs_insn * insn)
{
  GumArm64Writer * cw = output->writer.arm64;
  prologue (cw);
  gum_arm64_writer_put_mov_reg_reg (cw, ARM64_REG_X15, ARM64_REG_XZR);
  write_record (cw, ring, st_record_word0 (insn->address, ST_KIND_EXEC, 0), 0);
}

gpointer
st_emit_block (GumStalkerOutput * output, StRing * ring, guint64 start)
{
  GumArm64Writer * cw = output->writer.arm64;
  gpointer patch;
  prologue (cw);
  patch = cw->code;
  put_mov_u48 (cw, 15, 0);
  write_record (cw, ring, st_record_word0 (start, ST_KIND_BLOCK, 0), 0);
  return patch;
}

void
st_patch_block_end (gpointer patch, guint64 end)
{
  patch_mov_u48 (patch, end);
}

void
st_emit_func_exit_check (GumStalkerOutput * output, StRing * ring)
{
  GumArm64Writer * cw = output->writer.arm64;
  gconstpointer restore = cw->code;

  prologue (cw);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X16, GUM_ADDRESS (ring));
  gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X17, ARM64_REG_X16, G_STRUCT_OFFSET (StRing, func_sp_not));
  /* x17 = sp at the return - sp at entry: ~entry + sp + 1, with adds that set no flags. */
  gum_arm64_writer_put_add_reg_reg_imm (cw, ARM64_REG_X15, ARM64_REG_SP, FRAME);
  gum_arm64_writer_put_add_reg_reg_reg (cw, ARM64_REG_X17, ARM64_REG_X17, ARM64_REG_X15);
  gum_arm64_writer_put_add_reg_reg_imm (cw, ARM64_REG_X17, ARM64_REG_X17, 1);
  gum_arm64_writer_put_cbnz_reg_label (cw, ARM64_REG_X17, restore);
  gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_XZR, ARM64_REG_X16, G_STRUCT_OFFSET (StRing, recording));
  gum_arm64_writer_put_label (cw, restore);
  epilogue (cw);
}

/*
 * --events insn (insn-runs.h), as on x86_64 (emit-x86_64.c): while a run executes, two registers
 * none of its instructions use hold the record's payload (the base) and scratch values (the
 * temp); the run's start saves them in the ring's frame stack and claims the record, its end
 * publishes the record and restores them. Instructions are written out here rather than
 * through Gum's writer, whose offsets and register forms do not cover these (unscaled, sp
 * as a source, extended index registers). None sets flags.
 */

/* Registers a run may hold: not x14-x17 (the prologue saves and restores them, and Gum's code uses x16 and x17), x18 (the platform's), fp, lr or sp. */
static const guint8 run_register_pool[] = {
  ST_REG_ARM64_X9, ST_REG_ARM64_X10, ST_REG_ARM64_X11, ST_REG_ARM64_X12, ST_REG_ARM64_X13, ST_REG_ARM64_X28,
  ST_REG_ARM64_X27, ST_REG_ARM64_X26, ST_REG_ARM64_X25, ST_REG_ARM64_X24, ST_REG_ARM64_X23, ST_REG_ARM64_X22,
  ST_REG_ARM64_X21, ST_REG_ARM64_X20, ST_REG_ARM64_X19, ST_REG_ARM64_X8, ST_REG_ARM64_X7, ST_REG_ARM64_X6,
  ST_REG_ARM64_X5, ST_REG_ARM64_X4, ST_REG_ARM64_X3, ST_REG_ARM64_X2, ST_REG_ARM64_X1, ST_REG_ARM64_X0,
};

/* In encodings: register 31 is sp as a base or an add's source, xzr elsewhere. */
#define HW_SP 31
#define HW_ZR 31

void
st_choose_run_registers (csh capstone, const cs_insn * insn, guint64 exclude, StRun * run)
{
  st_run_choose_registers (capstone, insn, exclude, run_register_pool, G_N_ELEMENTS (run_register_pool), run);
}

/* A Capstone general-purpose register's number in encodings (x or w alike); -1 for any other. */
static gint
hw_of (arm64_reg reg)
{
  if (reg >= ARM64_REG_X0 && reg <= ARM64_REG_X28)
    return reg - ARM64_REG_X0;
  if (reg >= ARM64_REG_W0 && reg <= ARM64_REG_W30)
    return reg - ARM64_REG_W0;
  switch (reg)
  {
    case ARM64_REG_X29: return 29;
    case ARM64_REG_X30: return 30;
    case ARM64_REG_SP: case ARM64_REG_WSP: return HW_SP;
    case ARM64_REG_XZR: case ARM64_REG_WZR: return HW_ZR;
    default: return -1;
  }
}

static void
put (GumArm64Writer * cw, guint32 insn)
{
  gum_arm64_writer_put_instruction (cw, insn);
}

/* rd = rn + value (rn may be sp), value below 2^24 either way: add or sub, immediate, twice at most. */
static void
put_add_imm (GumArm64Writer * cw, guint rd, guint rn, gint64 value)
{
  guint32 op = value < 0 ? 0xd1000000 : 0x91000000; /* sub : add, 64-bit immediate */
  guint64 magnitude = value < 0 ? (guint64) -value : (guint64) value;

  if ((magnitude >> 12) != 0)
  {
    put (cw, op | (1u << 22) | ((guint32) ((magnitude >> 12) & 0xfff) << 10) | (rn << 5) | rd);
    rn = rd;
  }
  if ((magnitude & 0xfff) != 0 || rn != rd)
    put (cw, op | ((guint32) (magnitude & 0xfff) << 10) | (rn << 5) | rd);
}

/* ldr or str of a 64-bit register at [rn + at], at a multiple of 8 below 32768 (rn may be sp). */
static void
put_ldr (GumArm64Writer * cw, guint rt, guint rn, guint at)
{
  put (cw, 0xf9400000 | ((at / 8) << 10) | (rn << 5) | rt);
}

static void
put_str (GumArm64Writer * cw, guint rt, guint rn, guint at)
{
  put (cw, 0xf9000000 | ((at / 8) << 10) | (rn << 5) | rt);
}

/* rd = value: movz and three movk, a fixed length, so that it can be patched in later. */
static void
put_mov_u64 (GumArm64Writer * cw, guint rd, guint64 value)
{
  put_mov_u48 (cw, rd, value);
  put (cw, 0xf2e00000 | ((guint32) (value >> 48) << 5) | rd); /* movk rd, #imm, lsl #48 */
}

static void
patch_mov_u64 (guint32 * code, guint64 value)
{
  patch_mov_u48 (code, value);
  code[3] = (code[3] & ~(0xffffu << 5)) | ((guint32) (value >> 48) << 5);
}

/* t = the address memory operand `op` names, from the registers as they are (the run holds none it uses). */
static void
operand_address (GumArm64Writer * cw, const cs_insn * insn, const cs_arm64_op * op, guint t)
{
  gint base;
  gint index;

  if (op->type == ARM64_OP_IMM)
  {
    /* A literal load: Capstone gives the literal's address. */
    put_mov_u64 (cw, t, (guint64) op->imm);
    return;
  }
  /* A post-index writeback's offset is an operand of its own: the address is the base's (disp 0). */
  base = hw_of (op->mem.base);
  index = op->mem.index == ARM64_REG_INVALID ? -1 : hw_of (op->mem.index);
  put_add_imm (cw, t, (guint) base, 0);
  if (index >= 0)
  {
    /* add t, t, index, <extend> #amount: an x index with lsl is uxtx, a w index says uxtw or sxtw. */
    guint option = 3;
    switch (op->ext)
    {
      case ARM64_EXT_UXTW: option = 2; break;
      case ARM64_EXT_SXTW: option = 6; break;
      case ARM64_EXT_SXTX: option = 7; break;
      default: break;
    }
    put (cw, 0x8b200000 | ((guint32) index << 16) | (option << 13) | ((op->shift.value & 7) << 10) | (t << 5) | t);
  }
  if (op->mem.disp != 0)
    put_add_imm (cw, t, t, op->mem.disp);
}

/* t = the `bytes` (1, 2, 4 or 8) bytes at [t], zero-extended. */
static void
load_through (GumArm64Writer * cw, guint t, guint bytes)
{
  switch (bytes)
  {
    case 1: put (cw, 0x39400000 | (t << 5) | t); break; /* ldrb */
    case 2: put (cw, 0x79400000 | (t << 5) | t); break; /* ldrh */
    case 4: put (cw, 0xb9400000 | (t << 5) | t); break; /* ldr w */
    default: put_ldr (cw, t, t, 0); break;
  }
}

/* [base + at...] = the `bytes` bytes at the address [base + address_at] holds, zero-padded to whole words. */
static void
copy_memory (GumArm64Writer * cw, guint base, guint t, guint address_at, guint bytes, guint at)
{
  guint i;
  for (i = 0; i < bytes; i += 8)
  {
    put_ldr (cw, t, base, address_at);
    if (i != 0)
      put_ldr (cw, t, t, i);
    else
      load_through (cw, t, MIN (bytes, 8));
    put_str (cw, t, base, at + i);
  }
}

/* [base + at] = register `id`'s value (insnRegisters). */
static void
store_register (GumArm64Writer * cw, guint base, guint t, guint8 id, guint at)
{
  if (id >= ST_REG_ARM64_VECTOR_BASE)
  {
    /* str q, [t]: record values are 8-byte aligned, q's scaled offset wants 16. */
    put_add_imm (cw, t, base, at);
    put (cw, 0x3d800000 | (t << 5) | (id - ST_REG_ARM64_VECTOR_BASE));
    return;
  }
  switch (id)
  {
    case ST_REG_ARM64_SP: put_add_imm (cw, t, HW_SP, 0); break;
    case ST_REG_ARM64_NZCV: put (cw, 0xd53b4200 | t); break; /* mrs t, nzcv */
    default: put_str (cw, id, base, at); return;
  }
  put_str (cw, t, base, at);
}

/* After an instruction ran: the registers it wrote, and what its writes left in memory. */
void
st_emit_insn_after (GumStalkerOutput * output, StRunRegisters held, const StInsnValue * values, guint count)
{
  GumArm64Writer * cw = output->writer.arm64;
  guint i;

  for (i = 0; i != count; i++)
  {
    const StInsnValue * v = &values[i];
    if (v->before || (v->flags & ST_INSN_VALUE_UNRECORDED) != 0)
      continue;
    if (v->what == ST_INSN_VALUE_REG)
      store_register (cw, held.base, held.temp, v->reg, v->offset);
    else
      copy_memory (cw, held.base, held.temp, v->offset, v->bytes, v->offset + 8);
  }
}

/*
 * Before an instruction runs: the address of each memory access (a writeback may change its
 * base), a read's value, and what a branch leaves behind (lr after bl and blr, a constant).
 */
void
st_emit_insn_before (GumStalkerOutput * output, StRunRegisters held, const cs_insn * insn, const StInsnValue * values, guint count)
{
  GumArm64Writer * cw = output->writer.arm64;
  guint base = held.base;
  guint t = held.temp;
  guint i;

  for (i = 0; i != count; i++)
  {
    const StInsnValue * v = &values[i];
    if (v->what == ST_INSN_VALUE_REG)
    {
      /* Before: only a branch's, which on arm64 is lr after bl or blr (insn-values-arm64.c), a constant. */
      if (!v->before || (v->flags & ST_INSN_VALUE_UNRECORDED) != 0)
        continue;
      put_mov_u64 (cw, t, v->constant);
      put_str (cw, t, base, v->offset);
      continue;
    }
    operand_address (cw, insn, &insn->detail->arm64.operands[v->operand], t);
    put_str (cw, t, base, v->offset);
    if (v->before && (v->flags & ST_INSN_VALUE_UNRECORDED) == 0)
      copy_memory (cw, base, t, v->offset, v->bytes, v->offset + 8);
  }
}

/*
 * The run's end: its record says it is complete (its first word, insn instead of insnopen),
 * the drain may take it (insn_open_at cleared with a store-release, after the record), and its
 * registers get back the values they had before it started.
 */
void
st_emit_insn_close (GumStalkerOutput * output, StRing * ring, StRunRegisters held, guint64 word0)
{
  GumArm64Writer * cw = output->writer.arm64;
  guint base = held.base;
  guint t = held.temp;

  gum_arm64_writer_put_ldr_reg_u64 (cw, ARM64_REG_X0 + t, word0);
  /* stur t, [base, #-16]: the record's first word, a slot before its payload. */
  put (cw, 0xf8000000 | ((guint32) (-ST_SLOT_SIZE + ST_WORD0_AT) & 0x1ff) << 12 | (base << 5) | t);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X0 + base, GUM_ADDRESS (ring));
  put_add_imm (cw, t, base, G_STRUCT_OFFSET (StRing, insn_open_at));
  put (cw, 0xc89ffc00 | (t << 5) | HW_ZR); /* stlr xzr, [t] */
  /* Pop the saves: depth - 1, and the frame there. */
  put_ldr (cw, t, base, G_STRUCT_OFFSET (StRing, insn_depth));
  put_add_imm (cw, t, t, -1);
  put_str (cw, t, base, G_STRUCT_OFFSET (StRing, insn_depth));
  put (cw, 0x8b001000 | (t << 16) | (base << 5) | base); /* add base, base, t, lsl #4 */
  put_add_imm (cw, base, base, G_STRUCT_OFFSET (StRing, insn_frames));
  put_ldr (cw, t, base, G_STRUCT_OFFSET (StInsnFrame, temp));
  put_ldr (cw, base, base, G_STRUCT_OFFSET (StInsnFrame, base));
}

/*
 * Saves the registers the run holds, then reserves and claims its record: a window too short
 * for it and the one slot every window keeps is ended first (the refill stub), as a two-slot
 * record does. The record's size is known only when the run ends: st_patch_insn_run writes it
 * into this code then. Uses the prologue's x14-x17: x16 the ring, x14 the record.
 */
void
st_emit_insn_open (GumStalkerOutput * output, StRing * ring, StRun * run)
{
  GumArm64Writer * cw = output->writer.arm64;
  gconstpointer off = cw->code;
  gconstpointer room = cw->code + 1;
  gconstpointer have = cw->code + 2;

  prologue (cw);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X16, GUM_ADDRESS (ring));
  /* Push the saves: the frame at depth, and depth + 1. */
  put_ldr (cw, 17, 16, G_STRUCT_OFFSET (StRing, insn_depth));
  put_add_imm (cw, 15, 17, 1);
  put_str (cw, 15, 16, G_STRUCT_OFFSET (StRing, insn_depth));
  put (cw, 0x8b001000 | (17 << 16) | (16 << 5) | 15); /* add x15, x16, x17, lsl #4 */
  put_add_imm (cw, 15, 15, G_STRUCT_OFFSET (StRing, insn_frames));
  put_str (cw, run->held.base, 15, G_STRUCT_OFFSET (StInsnFrame, base));
  put_str (cw, run->held.temp, 15, G_STRUCT_OFFSET (StInsnFrame, temp));

  put_ldr (cw, 17, 16, G_STRUCT_OFFSET (StRing, recording));
  gum_arm64_writer_put_cbz_reg_label (cw, ARM64_REG_X17, off);
  /* remaining - (size + a slot): negative when the window is too short. */
  run->patches[0] = cw->code;
  put_mov_u64 (cw, 15, 0);
  put_ldr (cw, 17, 16, G_STRUCT_OFFSET (StRing, remaining));
  put (cw, 0xcb0f0231); /* sub x17, x17, x15 */
  gum_arm64_writer_put_tbz_reg_imm_label (cw, ARM64_REG_X17, 63, room);
  put_str (cw, 30, HW_SP, SLOT_LR);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X17, GUM_ADDRESS (st_globals.gates->refill_stub));
  gum_arm64_writer_put_blr_reg_no_auth (cw, ARM64_REG_X17);
  put_ldr (cw, 30, HW_SP, SLOT_LR);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X16, GUM_ADDRESS (ring));
  gum_arm64_writer_put_label (cw, room);
  put_ldr (cw, 14, 16, G_STRUCT_OFFSET (StRing, cur));
  run->patches[1] = cw->code;
  put_mov_u64 (cw, 17, 0);
  put_str (cw, 17, 14, ST_WORD0_AT);
  put_mov_u64 (cw, 17, run->layout_id);
  put_str (cw, 17, 14, ST_TARGET_WORD_AT);
  /* The drain stops short of the record until the run ends; then the record is claimed, cur published last. */
  put_str (cw, 14, 16, G_STRUCT_OFFSET (StRing, insn_open_at));
  run->patches[2] = cw->code;
  put_mov_u64 (cw, 15, 0);
  put (cw, 0x8b0f01d1); /* add x17, x14, x15 */
  put (cw, 0xc89ffc00 | (16 << 5) | 17); /* stlr x17, [x16]: cur is the ring's first field */
  put_ldr (cw, 17, 16, G_STRUCT_OFFSET (StRing, remaining));
  put (cw, 0xcb0f0231); /* sub x17, x17, x15 */
  put_str (cw, 17, 16, G_STRUCT_OFFSET (StRing, remaining));
  gum_arm64_writer_put_b_label (cw, have);
  /* Not recording: the values go to the scratch block, and nothing is claimed. */
  gum_arm64_writer_put_label (cw, off);
  put_ldr (cw, 14, 16, G_STRUCT_OFFSET (StRing, scratch));
  gum_arm64_writer_put_label (cw, have);
  put_add_imm (cw, run->held.base, 14, ST_SLOT_SIZE);
  epilogue (cw);
}

void
st_patch_insn_run (const StRun * run)
{
  guint64 size = st_run_record_size (run);

  patch_mov_u64 (run->patches[0], size + ST_SLOT_SIZE);
  patch_mov_u64 (run->patches[1], st_run_word0 (run, ST_KIND_INSNOPEN));
  patch_mov_u64 (run->patches[2], size);
}

/* Saves every register, calls *refill with x0 = ring. */
static void
write_refill_stub (GumArm64Writer * cw, StGatePage * page)
{
  /* Entered with x16 = ring; x14-x17 and lr are saved by the caller. */
  gum_arm64_writer_put_push_all_x_registers (cw);
  gum_arm64_writer_put_push_all_q_registers (cw);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X17, GUM_ADDRESS (&page->refill));
  gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X17, ARM64_REG_X17, 0);
  gum_arm64_writer_put_call_reg_with_arguments (cw, ARM64_REG_X17, 1, GUM_ARG_REGISTER, ARM64_REG_X16);
  gum_arm64_writer_put_pop_all_q_registers (cw);
  gum_arm64_writer_put_pop_all_x_registers (cw);
  gum_arm64_writer_put_ret (cw);
}

/* Disarmed refill, x0 = ring: the thread writes on into its scratch block; nothing is kept. */
static void
write_sink (GumArm64Writer * cw)
{
  gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X16, ARM64_REG_X0, G_STRUCT_OFFSET (StRing, scratch));
  gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_X16, ARM64_REG_X0, G_STRUCT_OFFSET (StRing, cur));
  gum_arm64_writer_put_ldr_reg_u64 (cw, ARM64_REG_X16, ST_BLOCK_SIZE);
  gum_arm64_writer_put_str_reg_reg_offset (cw, ARM64_REG_X16, ARM64_REG_X0, G_STRUCT_OFFSET (StRing, remaining));
  gum_arm64_writer_put_ret (cw);
}

/* Adds `delta` (+1 or -1) to *x16 atomically: an exclusive load/store loop (LSE atomics are optional). */
static void
put_atomic_add (GumArm64Writer * cw, gint delta, gconstpointer again)
{
  gum_arm64_writer_put_label (cw, again);
  gum_arm64_writer_put_instruction (cw, 0x885ffe11); /* ldaxr w17, [x16] */
  gum_arm64_writer_put_instruction (cw, delta > 0 ? 0x11000631 : 0x51000631); /* add/sub w17, w17, #1 */
  gum_arm64_writer_put_instruction (cw, 0x880ffe11); /* stlxr w15, w17, [x16] */
  gum_arm64_writer_put_cbnz_reg_label (cw, ARM64_REG_W15, again);
}

/* A callout gate: counted in, calls targets[id] with the callout's arguments unless it is NULL, counted out. */
static void
write_gate (GumArm64Writer * cw, StGatePage * page, StGateId id)
{
  gconstpointer skip = cw->code + 1;

  /* Stalker saved the whole CPU context around the callout: scratch registers are free. */
  gum_arm64_writer_put_push_reg_reg (cw, ARM64_REG_X29, ARM64_REG_LR);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X16, GUM_ADDRESS (&page->inflight));
  put_atomic_add (cw, 1, cw->code + 2);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X16, GUM_ADDRESS (&page->targets[id]));
  gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X16, ARM64_REG_X16, 0);
  gum_arm64_writer_put_cbz_reg_label (cw, ARM64_REG_X16, skip);
  gum_arm64_writer_put_blr_reg_no_auth (cw, ARM64_REG_X16);
  gum_arm64_writer_put_label (cw, skip);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X16, GUM_ADDRESS (&page->inflight));
  put_atomic_add (cw, -1, cw->code + 3);
  gum_arm64_writer_put_pop_reg_reg (cw, ARM64_REG_X29, ARM64_REG_LR);
  gum_arm64_writer_put_ret (cw);
}

guint
st_write_gate_code (StGatePage * page)
{
  GumArm64Writer * cw = gum_arm64_writer_new (page->code);
  guint i;
  guint size;

  page->refill_stub = cw->code;
  write_refill_stub (cw, page);
  page->sink = cw->code;
  write_sink (cw);
  for (i = 0; i != ST_GATE_COUNT; i++)
  {
    page->gates[i] = cw->code;
    write_gate (cw, page, i);
  }
  gum_arm64_writer_flush (cw);
  size = gum_arm64_writer_offset (cw);
  gum_arm64_writer_unref (cw);
  return size;
}

void
st_emit_api_return_check (GumStalkerIterator * iterator, GumStalkerOutput * output, StRing * ring, guint64 site,
    GumStalkerCallout callout, StSite * data)
{
  GumArm64Writer * cw = output->writer.arm64;
  gconstpointer hit = cw->code;
  gconstpointer skip = cw->code + 1;

  prologue (cw);
  gum_arm64_writer_put_ldr_reg_address (cw, ARM64_REG_X16, GUM_ADDRESS (ring));
  gum_arm64_writer_put_ldr_reg_reg_offset (cw, ARM64_REG_X17, ARM64_REG_X16, G_STRUCT_OFFSET (StRing, api.return_not));
  /* ~return address + site + 1: zero when the pending call returns here. */
  gum_arm64_writer_put_ldr_reg_u64 (cw, ARM64_REG_X15, site + 1);
  gum_arm64_writer_put_add_reg_reg_reg (cw, ARM64_REG_X17, ARM64_REG_X17, ARM64_REG_X15);
  gum_arm64_writer_put_cbz_reg_label (cw, ARM64_REG_X17, hit);
  epilogue (cw);
  gum_arm64_writer_put_b_label (cw, skip);
  gum_arm64_writer_put_label (cw, hit);
  epilogue (cw);
  gum_stalker_iterator_put_callout (iterator, callout, data, g_free);
  gum_arm64_writer_put_label (cw, skip);
}

void
st_cpu_sync_registers (GumCpuContext * cpu, guint64 location, guint64 * values)
{
  guint i;
  for (i = 0; i != 29; i++)
    values[ST_REG_ARM64_X0 + i] = cpu->x[i];
  values[ST_REG_ARM64_FP] = cpu->fp;
  values[ST_REG_ARM64_LR] = cpu->lr;
  values[ST_REG_ARM64_SP] = cpu->sp;
  values[ST_REG_ARM64_PC] = location;
}

guint64
st_cpu_sp (GumCpuContext * cpu)
{
  return cpu->sp;
}

guint64
st_cpu_syscall_number (GumCpuContext * cpu)
{
  return cpu->x[8];
}

void
st_cpu_syscall_args (GumCpuContext * cpu, guint64 args[6])
{
  guint i;
  for (i = 0; i != 6; i++)
    args[i] = cpu->x[i];
}

guint64
st_cpu_return_value (GumCpuContext * cpu)
{
  return cpu->x[0];
}

guint64
st_cpu_return_address (GumCpuContext * cpu)
{
  return cpu->lr & ST_ADDRESS_MASK;
}

void
st_cpu_call_args (GumCpuContext * cpu, guint n, guint64 * args)
{
  guint i;
  for (i = 0; i != n; i++)
    args[i] = (i < 8) ? cpu->x[i] : ((const guint64 *) GSIZE_TO_POINTER (cpu->sp))[i - 8];
}

guint64
st_cpu_entry_sp_after_return (GumCpuContext * cpu)
{
  /* bl keeps the return address in lr: sp is as it was at the entry. */
  return cpu->sp;
}
