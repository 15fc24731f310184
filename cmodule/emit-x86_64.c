/*
 * x86_64 inline writer. The emitted code steps over the red zone, saves rax, rcx and rdx, and
 * uses only flag-preserving instructions (mov, lea, jrcxz): popfq would cost more than the
 * record. A record is: load the window pointer, store the two words, advance the pointer
 * (published by the store itself: x86 keeps stores in order), take the record's size from the
 * window and, at zero, call the refill stub.
 */
#include "emit.h"

#include <string.h>

#define RED_ZONE 128
/* rsp at the instruction, seen from inside the prologue: red zone plus three saved registers. */
#define SAVED (RED_ZONE + 3 * 8)
#define SLOT_RDX 0
#define SLOT_RCX 8
#define SLOT_RAX 16


StInsnKind
st_classify (const cs_insn * insn)
{
  switch (insn->id)
  {
    case X86_INS_CALL: return ST_INSN_CALL;
    case X86_INS_RET: return ST_INSN_RET;
    case X86_INS_SYSCALL: return ST_INSN_SYSCALL;
    default: return ST_INSN_OTHER;
  }
}

void
st_keep (GumStalkerIterator * iterator, GumStalkerOutput * output, const cs_insn * insn, StInsnKind kind)
{
  gum_stalker_iterator_keep (iterator);
}

guint64
st_direct_call_target (const cs_insn * insn)
{
  const cs_x86_op * op = &insn->detail->x86.operands[0];
  return (insn->id == X86_INS_CALL && op->type == X86_OP_IMM) ? (guint64) op->imm : 0;
}

static GumX86Reg
gum_reg (x86_reg reg)
{
  switch (reg)
  {
    case X86_REG_RAX: return GUM_X86_RAX;
    case X86_REG_RCX: return GUM_X86_RCX;
    case X86_REG_RDX: return GUM_X86_RDX;
    case X86_REG_RBX: return GUM_X86_RBX;
    case X86_REG_RSP: return GUM_X86_RSP;
    case X86_REG_RBP: return GUM_X86_RBP;
    case X86_REG_RSI: return GUM_X86_RSI;
    case X86_REG_RDI: return GUM_X86_RDI;
    case X86_REG_R8: return GUM_X86_R8;
    case X86_REG_R9: return GUM_X86_R9;
    case X86_REG_R10: return GUM_X86_R10;
    case X86_REG_R11: return GUM_X86_R11;
    case X86_REG_R12: return GUM_X86_R12;
    case X86_REG_R13: return GUM_X86_R13;
    case X86_REG_R14: return GUM_X86_R14;
    case X86_REG_R15: return GUM_X86_R15;
    default: return GUM_X86_NONE;
  }
}

/* `dst` = the value `reg` had at the instruction, from inside the prologue. */
static gboolean
load_original (GumX86Writer * cw, GumX86Reg dst, x86_reg reg)
{
  switch (reg)
  {
    case X86_REG_RAX: return gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, dst, GUM_X86_RSP, SLOT_RAX);
    case X86_REG_RCX: return gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, dst, GUM_X86_RSP, SLOT_RCX);
    case X86_REG_RDX: return gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, dst, GUM_X86_RSP, SLOT_RDX);
    case X86_REG_RSP: return gum_x86_writer_put_lea_reg_reg_offset (cw, dst, GUM_X86_RSP, SAVED);
    default:
      if (gum_reg (reg) == GUM_X86_NONE)
        return FALSE;
      return gum_x86_writer_put_mov_reg_reg (cw, dst, gum_reg (reg));
  }
}

/* The register's number in instruction encodings. */
static guint
hw (GumX86Reg reg)
{
  return reg - GUM_X86_RAX;
}

/* lea dst, [base + index * scale + disp32]; base or index GUM_X86_NONE when absent. Gum's lea takes no r8-r15. */
static void
put_lea (GumX86Writer * cw, GumX86Reg dst, GumX86Reg base, GumX86Reg index, guint scale, gint32 disp)
{
  guint8 code[8];
  guint ss = scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0;
  guint i = index == GUM_X86_NONE ? 4 : hw (index);

  code[0] = (guint8) (0x48 | ((hw (dst) >> 3) << 2) | ((i >> 3) << 1) | (base == GUM_X86_NONE ? 0 : hw (base) >> 3));
  code[1] = 0x8d;
  code[2] = (guint8) ((base == GUM_X86_NONE ? 0x00 : 0x80) | ((hw (dst) & 7) << 3) | 4);
  code[3] = (guint8) ((ss << 6) | ((i & 7) << 3) | (base == GUM_X86_NONE ? 5 : hw (base) & 7));
  memcpy (code + 4, &disp, 4);
  gum_x86_writer_put_bytes (cw, code, sizeof (code));
}

/* dst = fs's base: glibc and bionic keep the thread pointer there, at fs:[0]. */
static void
put_fs_base (GumX86Writer * cw, GumX86Reg dst)
{
  /* mov dst, fs:[0] */
  guint8 code[9] = { 0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0 };

  code[1] |= (guint8) ((hw (dst) >> 3) << 2);
  code[3] |= (guint8) ((hw (dst) & 7) << 3);
  gum_x86_writer_put_bytes (cw, code, sizeof (code));
}

/*
 * rax = the address memory operand `op` names, from the registers as they were at the
 * instruction; uses rcx. FALSE: a form not handled (gs-relative, a register of no address).
 */
static gboolean
load_operand_address (GumX86Writer * cw, const cs_insn * insn, const cs_x86_op * op)
{
  if (op->mem.segment != X86_REG_INVALID && op->mem.segment != X86_REG_FS && op->mem.segment != X86_REG_ES &&
      op->mem.segment != X86_REG_DS && op->mem.segment != X86_REG_SS && op->mem.segment != X86_REG_CS)
    return FALSE;
  if (op->mem.base == X86_REG_RIP)
  {
    gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RAX, insn->address + insn->size + op->mem.disp);
    return TRUE;
  }
  if (op->mem.base == X86_REG_INVALID)
    gum_x86_writer_put_mov_reg_u32 (cw, GUM_X86_ECX, 0);
  else if (!load_original (cw, GUM_X86_RCX, op->mem.base))
    return FALSE;
  if (op->mem.index == X86_REG_INVALID)
    gum_x86_writer_put_mov_reg_u32 (cw, GUM_X86_EAX, 0);
  else if (!load_original (cw, GUM_X86_RAX, op->mem.index))
    return FALSE;
  put_lea (cw, GUM_X86_RAX, GUM_X86_RCX, GUM_X86_RAX, op->mem.scale, (gint32) op->mem.disp);
  if (op->mem.segment == X86_REG_FS)
  {
    put_fs_base (cw, GUM_X86_RCX);
    put_lea (cw, GUM_X86_RAX, GUM_X86_RAX, GUM_X86_RCX, 1, 0);
  }
  return TRUE;
}

/* rax = the call's target, evaluated as the instruction would. FALSE: a form not handled. */
static gboolean
load_call_target (GumX86Writer * cw, const cs_insn * insn)
{
  const cs_x86_op * op = &insn->detail->x86.operands[0];

  if (op->type == X86_OP_IMM)
  {
    gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RAX, (guint64) op->imm);
    return TRUE;
  }
  if (op->type == X86_OP_REG)
    return load_original (cw, GUM_X86_RAX, op->reg);
  if (op->type != X86_OP_MEM || !load_operand_address (cw, insn, op))
    return FALSE;
  return gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RAX, GUM_X86_RAX, 0);
}

/*
 * jrcxz to a label further than its 127 bytes reach, through a near jump. Its own labels are
 * named after where it starts, past those of the caller's (named after its own start).
 */
static void
put_far_jrcxz (GumX86Writer * cw, gconstpointer target)
{
  gconstpointer taken = cw->code;
  gconstpointer not_taken = cw->code + 1;

  gum_x86_writer_put_jcc_short_label (cw, X86_INS_JRCXZ, taken, GUM_NO_HINT);
  gum_x86_writer_put_jmp_short_label (cw, not_taken);
  gum_x86_writer_put_label (cw, taken);
  gum_x86_writer_put_jmp_near_label (cw, target);
  gum_x86_writer_put_label (cw, not_taken);
}

static void
prologue (GumX86Writer * cw)
{
  gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RSP, GUM_X86_RSP, -RED_ZONE);
  gum_x86_writer_put_push_reg (cw, GUM_X86_RAX);
  gum_x86_writer_put_push_reg (cw, GUM_X86_RCX);
  gum_x86_writer_put_push_reg (cw, GUM_X86_RDX);
}

static void
epilogue (GumX86Writer * cw)
{
  gum_x86_writer_put_pop_reg (cw, GUM_X86_RDX);
  gum_x86_writer_put_pop_reg (cw, GUM_X86_RCX);
  gum_x86_writer_put_pop_reg (cw, GUM_X86_RAX);
  gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RSP, GUM_X86_RSP, RED_ZONE);
}

/*
 * With the target in rax: writes the record and restores what the prologue saved. A call
 * (call_length != 0) takes a second slot: the stack pointer at the call and the call's length.
 * Records never straddle blocks: when a two-slot record meets a window with one slot left, the
 * refill stub ends the block there first.
 */
static void
write_record (GumX86Writer * cw, StRing * ring, guint64 word0, guint call_length)
{
  gconstpointer refill = cw->code;
  gconstpointer restore = cw->code + 1;
  gconstpointer done = cw->code + 2;
  gconstpointer make_room = cw->code + 3;
  gconstpointer room = cw->code + 4;
  guint size = call_length != 0 ? 2 * ST_SLOT_SIZE : ST_SLOT_SIZE;

  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RDX, GUM_ADDRESS (ring));
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, recording));
  if (call_length == 0)
  {
    gum_x86_writer_put_jcc_short_label (cw, X86_INS_JRCXZ, restore, GUM_NO_HINT);
  }
  else
  {
    put_far_jrcxz (cw, restore);
    /* One slot left: end the block there first, keeping the target (the stub may change rax, rcx, rdx). */
    gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, remaining));
    gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RCX, GUM_X86_RCX, -ST_SLOT_SIZE);
    gum_x86_writer_put_jcc_short_label (cw, X86_INS_JRCXZ, make_room, GUM_NO_HINT);
    gum_x86_writer_put_jmp_short_label (cw, room);
    gum_x86_writer_put_label (cw, make_room);
    gum_x86_writer_put_push_reg (cw, GUM_X86_RAX);
    gum_x86_writer_put_call_address (cw, GUM_ADDRESS (st_globals.gates->refill_stub));
    gum_x86_writer_put_pop_reg (cw, GUM_X86_RAX);
    gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RDX, GUM_ADDRESS (ring));
    gum_x86_writer_put_label (cw, room);
  }
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, cur));
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RCX, ST_TARGET_WORD_AT, GUM_X86_RAX);
  gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RAX, word0);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RCX, ST_WORD0_AT, GUM_X86_RAX);
  if (call_length != 0)
  {
    gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RAX, GUM_X86_RSP, SAVED);
    gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RCX, ST_SLOT_SIZE + ST_PAYLOAD_CALL_SP, GUM_X86_RAX);
    gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RAX, call_length);
    gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RCX, ST_SLOT_SIZE + ST_PAYLOAD_CALL_LENGTH, GUM_X86_RAX);
  }
  gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RCX, GUM_X86_RCX, size);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, cur), GUM_X86_RCX);
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, remaining));
  gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RCX, GUM_X86_RCX, -(gssize) size);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, remaining), GUM_X86_RCX);
  gum_x86_writer_put_jcc_short_label (cw, X86_INS_JRCXZ, refill, GUM_NO_HINT);
  gum_x86_writer_put_label (cw, restore);
  epilogue (cw);
  gum_x86_writer_put_jmp_short_label (cw, done);
  gum_x86_writer_put_label (cw, refill);
  gum_x86_writer_put_call_address (cw, GUM_ADDRESS (st_globals.gates->refill_stub));
  gum_x86_writer_put_jmp_short_label (cw, restore);
  gum_x86_writer_put_label (cw, done);
}

void
st_emit_call (GumStalkerOutput * output, StRing * ring, const cs_insn * insn)
{
  GumX86Writer * cw = output->writer.x86;
  prologue (cw);
  if (!load_call_target (cw, insn))
    gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RAX, 0); /* segment-relative: target unknown */
  write_record (cw, ring, st_record_word0 (insn->address, ST_KIND_CALL, 1), insn->size);
}

void
st_emit_ret (GumStalkerOutput * output, StRing * ring, const cs_insn * insn)
{
  GumX86Writer * cw = output->writer.x86;
  prologue (cw);
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RAX, GUM_X86_RSP, SAVED);
  write_record (cw, ring, st_record_word0 (insn->address, ST_KIND_RET, 0), 0);
}

void
st_emit_exec (GumStalkerOutput * output, StRing * ring, const cs_insn * insn)
{
  GumX86Writer * cw = output->writer.x86;
  prologue (cw);
  gum_x86_writer_put_mov_reg_u32 (cw, GUM_X86_EAX, 0);
  write_record (cw, ring, st_record_word0 (insn->address, ST_KIND_EXEC, 0), 0);
}

gpointer
st_emit_block (GumStalkerOutput * output, StRing * ring, guint64 start)
{
  GumX86Writer * cw = output->writer.x86;
  guint8 * patch;
  prologue (cw);
  /* mov rax, imm64 is REX.W B8 imm64: the end goes into its last eight bytes. */
  patch = cw->code + 2;
  gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RAX, 0);
  write_record (cw, ring, st_record_word0 (start, ST_KIND_BLOCK, 0), 0);
  return patch;
}

void
st_patch_block_end (gpointer patch, guint64 end)
{
  *(guint64 *) patch = end & ST_ADDRESS_MASK;
}

void
st_emit_func_exit_check (GumStalkerOutput * output, StRing * ring)
{
  GumX86Writer * cw = output->writer.x86;
  gconstpointer close = cw->code;
  gconstpointer restore = cw->code + 1;
  guint8 lea[8] = { 0x48, 0x8d, 0x8c, 0x0c, 0, 0, 0, 0 };
  gint32 disp = SAVED + 1;

  prologue (cw);
  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RDX, GUM_ADDRESS (ring));
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, func_sp_not));
  /* lea rcx, [rsp + rcx + SAVED + 1]: the stack pointer at the return minus the one at entry. */
  lea[4] = disp & 0xff;
  lea[5] = (disp >> 8) & 0xff;
  gum_x86_writer_put_bytes (cw, lea, sizeof (lea));
  gum_x86_writer_put_jcc_short_label (cw, X86_INS_JRCXZ, close, GUM_NO_HINT);
  gum_x86_writer_put_jmp_short_label (cw, restore);
  gum_x86_writer_put_label (cw, close);
  /* rcx is 0 here: the outermost activation returns, recording stops. */
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, recording), GUM_X86_RCX);
  gum_x86_writer_put_label (cw, restore);
  epilogue (cw);
}

/*
 * --events insn (insn-runs.h). While a run executes, two registers none of its instructions
 * use hold the record's payload (the base) and scratch values (the temp): a written register
 * costs one store, a memory access about four, and nothing needs a prologue. The run's start
 * saves their values and claims the record (the drain thread stops short of a record still
 * being filled, ring.c); its end restores them. The saves are a stack in the ring, so a signal
 * handler followed in the middle of a run leaves the interrupted run and its registers intact.
 */

/* Registers a run may hold: not rax, rcx, rdx (the prologue saves them), nor rsp, rbp, r12, r13 (a SIB byte or a displacement as a base). */
static const guint8 run_register_pool[] = {
  ST_REG_X64_R11, ST_REG_X64_R10, ST_REG_X64_R9, ST_REG_X64_R8, ST_REG_X64_RDI, ST_REG_X64_RSI, ST_REG_X64_R15,
  ST_REG_X64_R14, ST_REG_X64_RBX,
};

/* Gum's name of an insnRegisters general-purpose register. */
static GumX86Reg
gum_reg_of (guint8 id)
{
  static const GumX86Reg regs[] = {
    GUM_X86_RAX, GUM_X86_RBX, GUM_X86_RCX, GUM_X86_RDX, GUM_X86_RSI, GUM_X86_RDI, GUM_X86_RBP, GUM_X86_RSP,
    GUM_X86_R8, GUM_X86_R9, GUM_X86_R10, GUM_X86_R11, GUM_X86_R12, GUM_X86_R13, GUM_X86_R14, GUM_X86_R15,
  };
  return regs[id];
}

void
st_choose_run_registers (csh capstone, const cs_insn * insn, guint64 exclude, StRun * run)
{
  st_run_choose_registers (capstone, insn, exclude, run_register_pool, G_N_ELEMENTS (run_register_pool), run);
}

/*
 * An instruction with a register (or an opcode extension) and a [base + disp32] operand, base
 * one that needs no SIB byte: [REX] opcode modrm disp32. `byte_reg`: the register is a byte
 * register, which for sil and dil takes a REX prefix.
 */
static void
put_mem_op (GumX86Writer * cw, gboolean wide, gboolean byte_reg, const guint8 * opcode, guint opcode_size, guint reg,
    GumX86Reg base, gint32 disp)
{
  guint8 code[10];
  guint n = 0;
  guint8 rex = (guint8) (0x40 | (wide ? 8 : 0) | ((reg >> 3) << 2) | (hw (base) >> 3));

  if (rex != 0x40 || (byte_reg && reg >= 4))
    code[n++] = rex;
  memcpy (code + n, opcode, opcode_size);
  n += opcode_size;
  code[n++] = (guint8) (0x80 | ((reg & 7) << 3) | (hw (base) & 7));
  memcpy (code + n, &disp, 4);
  gum_x86_writer_put_bytes (cw, code, n + 4);
}

static const guint8 op_movzx_byte[] = { 0x0f, 0xb6 };
static const guint8 op_movzx_word[] = { 0x0f, 0xb7 };
static const guint8 op_mov_load[] = { 0x8b };
static const guint8 op_mov_store_byte[] = { 0x88 };
static const guint8 op_mov_store_imm[] = { 0xc7 };

/* t = `bytes` (1, 2, 4 or 8) bytes read from [t], zero-extended; t is one of the pool. */
static void
load_through (GumX86Writer * cw, GumX86Reg t, guint bytes)
{
  if (bytes == 1)
    put_mem_op (cw, FALSE, FALSE, op_movzx_byte, sizeof (op_movzx_byte), hw (t), t, 0);
  else if (bytes == 2)
    put_mem_op (cw, FALSE, FALSE, op_movzx_word, sizeof (op_movzx_word), hw (t), t, 0);
  else
    put_mem_op (cw, bytes == 8, FALSE, op_mov_load, sizeof (op_mov_load), hw (t), t, 0);
}

/* [base + at] = the vector register's value: movdqu for xmm, vmovdqu for ymm. */
static void
store_vector (GumX86Writer * cw, GumX86Reg base, guint8 id, gint32 at)
{
  guint8 code[11];
  guint n = 0;
  guint b = hw (base);
  guint v;

  if (id >= ST_REG_X64_WIDE_BASE)
  {
    v = id - ST_REG_X64_WIDE_BASE;
    code[n++] = 0xc4;
    code[n++] = (guint8) ((v < 8 ? 0x80 : 0) | 0x40 | (b < 8 ? 0x20 : 0) | 0x01);
    code[n++] = 0x7e;
  }
  else
  {
    v = id - ST_REG_X64_VECTOR_BASE;
    code[n++] = 0xf3;
    if (v >= 8 || b >= 8)
      code[n++] = (guint8) (0x40 | ((v >> 3) << 2) | (b >> 3));
    code[n++] = 0x0f;
  }
  code[n++] = 0x7f;
  code[n++] = (guint8) (0x80 | ((v & 7) << 3) | (b & 7));
  memcpy (code + n, &at, 4);
  gum_x86_writer_put_bytes (cw, code, n + 4);
}

/* [base + at...] = the `bytes` bytes at the address [base + address_at] holds, zero-padded to whole words. */
static void
copy_memory (GumX86Writer * cw, GumX86Reg base, GumX86Reg t, gint32 address_at, guint bytes, gint32 at)
{
  guint i;
  for (i = 0; i < bytes; i += 8)
  {
    gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, t, base, address_at);
    if (i != 0)
      gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, t, t, i);
    else
      load_through (cw, t, MIN (bytes, 8));
    gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, base, at + i, t);
  }
}

/* After an instruction ran: the registers it wrote, and what its writes left in memory. */
void
st_emit_insn_after (GumStalkerOutput * output, StRunRegisters held, const StInsnValue * values, guint count)
{
  GumX86Writer * cw = output->writer.x86;
  GumX86Reg base = gum_reg_of (held.base);
  GumX86Reg t = gum_reg_of (held.temp);
  guint i;

  for (i = 0; i != count; i++)
  {
    const StInsnValue * v = &values[i];
    if (v->before || (v->flags & ST_INSN_VALUE_UNRECORDED) != 0)
      continue;
    if (v->what != ST_INSN_VALUE_REG)
    {
      copy_memory (cw, base, t, v->offset, v->bytes, v->offset + 8);
    }
    else if (v->reg >= ST_REG_X64_VECTOR_BASE)
    {
      store_vector (cw, base, v->reg, v->offset);
    }
    else if (v->reg == ST_REG_X64_RFLAGS)
    {
      gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RSP, GUM_X86_RSP, -RED_ZONE);
      gum_x86_writer_put_pushfx (cw);
      gum_x86_writer_put_pop_reg (cw, t);
      gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RSP, GUM_X86_RSP, RED_ZONE);
      gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, base, v->offset, t);
    }
    else
    {
      gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, base, v->offset, gum_reg_of (v->reg));
    }
  }
}

/* t = the address of memory operand `op`, from the registers as they are (the run holds none it uses). */
static void
operand_address (GumX86Writer * cw, const cs_insn * insn, const cs_x86_op * op, GumX86Reg t)
{
  GumX86Reg base = op->mem.base == X86_REG_INVALID ? GUM_X86_NONE : gum_reg (op->mem.base);
  GumX86Reg index = op->mem.index == X86_REG_INVALID ? GUM_X86_NONE : gum_reg (op->mem.index);

  if (op->mem.base == X86_REG_RIP)
  {
    gum_x86_writer_put_mov_reg_u64 (cw, t, insn->address + insn->size + op->mem.disp);
    return;
  }
  if (op->mem.segment != X86_REG_FS)
  {
    put_lea (cw, t, base, index, op->mem.scale, (gint32) op->mem.disp);
    return;
  }
  put_fs_base (cw, t);
  if (base != GUM_X86_NONE)
    put_lea (cw, t, t, base, 1, 0);
  put_lea (cw, t, t, index, op->mem.scale, (gint32) op->mem.disp);
}

/*
 * Before an instruction runs: the address of each memory access (the registers may change),
 * a read's value, and what a branch leaves behind.
 */
void
st_emit_insn_before (GumStalkerOutput * output, StRunRegisters held, const cs_insn * insn, const StInsnValue * values, guint count)
{
  GumX86Writer * cw = output->writer.x86;
  GumX86Reg base = gum_reg_of (held.base);
  GumX86Reg t = gum_reg_of (held.temp);
  guint i;

  for (i = 0; i != count; i++)
  {
    const StInsnValue * v = &values[i];
    if (v->what == ST_INSN_VALUE_REG)
    {
      if (!v->before || (v->flags & ST_INSN_VALUE_UNRECORDED) != 0)
        continue;
      put_lea (cw, t, gum_reg (v->source), GUM_X86_NONE, 1, v->delta);
      gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, base, v->offset, t);
      continue;
    }
    switch (v->operand)
    {
      case ST_ACCESS_PUSH: put_lea (cw, t, GUM_X86_RSP, GUM_X86_NONE, 1, -8); break;
      case ST_ACCESS_POP: gum_x86_writer_put_mov_reg_reg (cw, t, GUM_X86_RSP); break;
      case ST_ACCESS_LEAVE: gum_x86_writer_put_mov_reg_reg (cw, t, GUM_X86_RBP); break;
      case ST_ACCESS_UNKNOWN: gum_x86_writer_put_mov_reg_u64 (cw, t, 0); break;
      default: operand_address (cw, insn, &insn->detail->x86.operands[v->operand], t); break;
    }
    gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, base, v->offset, t);
    if (!v->before || (v->flags & ST_INSN_VALUE_UNRECORDED) != 0)
      continue;
    if (v->has_constant)
    {
      gum_x86_writer_put_mov_reg_u64 (cw, t, v->constant);
      gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, base, v->offset + 8, t);
    }
    else
    {
      copy_memory (cw, base, t, v->offset, v->bytes, v->offset + 8);
    }
  }
}

/*
 * The run's end: its record says it is complete (its first word, insn instead of insnopen),
 * the drain may take it, and its registers get back the values they had before it started.
 */
void
st_emit_insn_close (GumStalkerOutput * output, StRing * ring, StRunRegisters held, guint64 word0)
{
  GumX86Writer * cw = output->writer.x86;
  GumX86Reg base = gum_reg_of (held.base);
  GumX86Reg t = gum_reg_of (held.temp);
  const guint8 zero[4] = { 0, 0, 0, 0 };

  gum_x86_writer_put_mov_reg_u64 (cw, t, word0);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, base, ST_WORD0_AT - ST_SLOT_SIZE, t);
  gum_x86_writer_put_mov_reg_address (cw, base, GUM_ADDRESS (ring));
  put_mem_op (cw, TRUE, FALSE, op_mov_store_imm, sizeof (op_mov_store_imm), 0, base, G_STRUCT_OFFSET (StRing, insn_open_at));
  gum_x86_writer_put_bytes (cw, zero, sizeof (zero));
  /* Pop the saves: depth - 1 (its low byte), and the frame there. */
  put_mem_op (cw, FALSE, FALSE, op_movzx_byte, sizeof (op_movzx_byte), hw (t), base, G_STRUCT_OFFSET (StRing, insn_depth));
  put_lea (cw, t, t, GUM_X86_NONE, 1, -1);
  put_mem_op (cw, FALSE, TRUE, op_mov_store_byte, sizeof (op_mov_store_byte), hw (t), base, G_STRUCT_OFFSET (StRing, insn_depth));
  put_mem_op (cw, FALSE, FALSE, op_movzx_byte, sizeof (op_movzx_byte), hw (t), base, G_STRUCT_OFFSET (StRing, insn_depth));
  put_lea (cw, t, t, t, 1, 0);
  put_lea (cw, base, base, t, 8, G_STRUCT_OFFSET (StRing, insn_frames));
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, t, base, G_STRUCT_OFFSET (StInsnFrame, temp));
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, base, base, G_STRUCT_OFFSET (StInsnFrame, base));
}

/* lea rcx, [base + disp32], with a disp32 st_patch_insn_run fills in: returns where. */
static gpointer
lea_rcx_to_patch (GumX86Writer * cw, GumX86Reg base)
{
  gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RCX, base, 0x10000);
  return cw->code - 4;
}

/*
 * Saves the registers the run holds, then reserves and claims its record: a window too short
 * for it (and the one slot every window keeps) is ended first, as a two-slot record does. The
 * record's size is known only when the run ends: st_patch_insn_run writes it into this code then.
 */
void
st_emit_insn_open (GumStalkerOutput * output, StRing * ring, StRun * run)
{
  GumX86Writer * cw = output->writer.x86;
  gconstpointer off = cw->code;
  gconstpointer room = cw->code + 1;
  gconstpointer have = cw->code + 2;

  prologue (cw);
  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RDX, GUM_ADDRESS (ring));
  /* Push the saves: the frame at depth (its low byte), and depth + 1. */
  put_mem_op (cw, FALSE, FALSE, op_movzx_byte, sizeof (op_movzx_byte), hw (GUM_X86_RCX), GUM_X86_RDX, G_STRUCT_OFFSET (StRing, insn_depth));
  gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_EAX, GUM_X86_RCX, 1);
  put_mem_op (cw, FALSE, TRUE, op_mov_store_byte, sizeof (op_mov_store_byte), hw (GUM_X86_RAX), GUM_X86_RDX, G_STRUCT_OFFSET (StRing, insn_depth));
  put_lea (cw, GUM_X86_RCX, GUM_X86_RCX, GUM_X86_RCX, 1, 0);
  put_lea (cw, GUM_X86_RAX, GUM_X86_RDX, GUM_X86_RCX, 8, G_STRUCT_OFFSET (StRing, insn_frames));
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RAX, G_STRUCT_OFFSET (StInsnFrame, base), gum_reg_of (run->held.base));
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RAX, G_STRUCT_OFFSET (StInsnFrame, temp), gum_reg_of (run->held.temp));

  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, recording));
  put_far_jrcxz (cw, off);
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, remaining));
  run->patches[0] = lea_rcx_to_patch (cw, GUM_X86_RCX);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, insn_probe), GUM_X86_RCX);
  /* The probe's sign byte: 0 when the record and a slot more fit. */
  put_mem_op (cw, FALSE, FALSE, op_movzx_byte, sizeof (op_movzx_byte), hw (GUM_X86_RCX), GUM_X86_RDX, G_STRUCT_OFFSET (StRing, insn_probe) + 7);
  gum_x86_writer_put_jcc_short_label (cw, X86_INS_JRCXZ, room, GUM_NO_HINT);
  gum_x86_writer_put_call_address (cw, GUM_ADDRESS (st_globals.gates->refill_stub));
  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RDX, GUM_ADDRESS (ring));
  gum_x86_writer_put_label (cw, room);
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RAX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, cur));
  gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RCX, 0);
  run->patches[1] = cw->code - 8;
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RAX, ST_WORD0_AT, GUM_X86_RCX);
  gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RCX, run->layout_id);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RAX, ST_TARGET_WORD_AT, GUM_X86_RCX);
  /* The drain stops short of the record until the run ends; then the record is claimed. */
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, insn_open_at), GUM_X86_RAX);
  run->patches[2] = lea_rcx_to_patch (cw, GUM_X86_RAX);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, cur), GUM_X86_RCX);
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, remaining));
  run->patches[3] = lea_rcx_to_patch (cw, GUM_X86_RCX);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, remaining), GUM_X86_RCX);
  gum_x86_writer_put_jmp_short_label (cw, have);
  /* Not recording: the values go to the scratch block, and nothing is claimed. */
  gum_x86_writer_put_label (cw, off);
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RAX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, scratch));
  gum_x86_writer_put_label (cw, have);
  put_lea (cw, gum_reg_of (run->held.base), GUM_X86_RAX, GUM_X86_NONE, 1, ST_SLOT_SIZE);
  epilogue (cw);
}

void
st_patch_insn_run (const StRun * run)
{
  gint32 size = (gint32) st_run_record_size (run);
  gint32 probe = -(size + ST_SLOT_SIZE);
  gint32 used = -size;
  guint64 word0 = st_run_word0 (run, ST_KIND_INSNOPEN);

  memcpy (run->patches[0], &probe, 4);
  memcpy (run->patches[1], &word0, 8);
  memcpy (run->patches[2], &size, 4);
  memcpy (run->patches[3], &used, 4);
}

/* Saves what a C call may change beyond rax, rcx, rdx (saved by the inline writer), calls *refill with rdi = ring. */
static void
write_refill_stub (GumX86Writer * cw, StGatePage * page)
{
  /* Entered by call with rdx = ring; rax, rcx and rdx are saved by the caller. */
  gum_x86_writer_put_pushfx (cw);
  gum_x86_writer_put_push_reg (cw, GUM_X86_RSI);
  gum_x86_writer_put_push_reg (cw, GUM_X86_RDI);
  gum_x86_writer_put_push_reg (cw, GUM_X86_R8);
  gum_x86_writer_put_push_reg (cw, GUM_X86_R9);
  gum_x86_writer_put_push_reg (cw, GUM_X86_R10);
  gum_x86_writer_put_push_reg (cw, GUM_X86_R11);
  gum_x86_writer_put_push_reg (cw, GUM_X86_RBX);
  gum_x86_writer_put_mov_reg_reg (cw, GUM_X86_RBX, GUM_X86_RSP);
  gum_x86_writer_put_and_reg_u32 (cw, GUM_X86_RSP, 0xfffffff0);
  gum_x86_writer_put_sub_reg_imm (cw, GUM_X86_RSP, 512);
  gum_x86_writer_put_fxsave_reg_ptr (cw, GUM_X86_RSP);
  gum_x86_writer_put_mov_reg_reg (cw, GUM_X86_RDI, GUM_X86_RDX);
  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RAX, GUM_ADDRESS (&page->refill));
  gum_x86_writer_put_mov_reg_reg_ptr (cw, GUM_X86_RAX, GUM_X86_RAX);
  gum_x86_writer_put_call_reg (cw, GUM_X86_RAX);
  gum_x86_writer_put_fxrstor_reg_ptr (cw, GUM_X86_RSP);
  gum_x86_writer_put_mov_reg_reg (cw, GUM_X86_RSP, GUM_X86_RBX);
  gum_x86_writer_put_pop_reg (cw, GUM_X86_RBX);
  gum_x86_writer_put_pop_reg (cw, GUM_X86_R11);
  gum_x86_writer_put_pop_reg (cw, GUM_X86_R10);
  gum_x86_writer_put_pop_reg (cw, GUM_X86_R9);
  gum_x86_writer_put_pop_reg (cw, GUM_X86_R8);
  gum_x86_writer_put_pop_reg (cw, GUM_X86_RDI);
  gum_x86_writer_put_pop_reg (cw, GUM_X86_RSI);
  gum_x86_writer_put_popfx (cw);
  gum_x86_writer_put_ret (cw);
}

/* Disarmed refill, rdi = ring: the thread writes on into its scratch block; nothing is kept. */
static void
write_sink (GumX86Writer * cw)
{
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RAX, GUM_X86_RDI, G_STRUCT_OFFSET (StRing, scratch));
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDI, G_STRUCT_OFFSET (StRing, cur), GUM_X86_RAX);
  gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RAX, ST_BLOCK_SIZE);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDI, G_STRUCT_OFFSET (StRing, remaining), GUM_X86_RAX);
  gum_x86_writer_put_ret (cw);
}

/* A callout gate: counted in, calls targets[id] with the callout's arguments unless it is NULL, counted out. */
static void
write_gate (GumX86Writer * cw, StGatePage * page, StGateId id)
{
  gconstpointer skip = cw->code + 1;

  /* Stalker saved the whole CPU context around the callout: flags and scratch registers are free. */
  gum_x86_writer_put_lock_inc_imm32_ptr (cw, (gpointer) &page->inflight);
  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RAX, GUM_ADDRESS (&page->targets[id]));
  gum_x86_writer_put_mov_reg_reg_ptr (cw, GUM_X86_RAX, GUM_X86_RAX);
  gum_x86_writer_put_test_reg_reg (cw, GUM_X86_RAX, GUM_X86_RAX);
  gum_x86_writer_put_jcc_short_label (cw, X86_INS_JE, skip, GUM_NO_HINT);
  gum_x86_writer_put_sub_reg_imm (cw, GUM_X86_RSP, 8);
  gum_x86_writer_put_call_reg (cw, GUM_X86_RAX);
  gum_x86_writer_put_add_reg_imm (cw, GUM_X86_RSP, 8);
  gum_x86_writer_put_label (cw, skip);
  gum_x86_writer_put_lock_dec_imm32_ptr (cw, (gpointer) &page->inflight);
  gum_x86_writer_put_ret (cw);
}

guint
st_write_gate_code (StGatePage * page)
{
  GumX86Writer * cw = gum_x86_writer_new (page->code);
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
  gum_x86_writer_flush (cw);
  size = gum_x86_writer_offset (cw);
  gum_x86_writer_unref (cw);
  return size;
}

void
st_emit_api_return_check (GumStalkerIterator * iterator, GumStalkerOutput * output, StRing * ring, guint64 site,
    GumStalkerCallout callout, StSite * data)
{
  GumX86Writer * cw = output->writer.x86;
  gconstpointer hit = cw->code;
  gconstpointer skip = cw->code + 1;
  /* lea rcx, [rcx + rax]: ~return address + site + 1, zero when the pending call returns here. */
  const guint8 lea[4] = { 0x48, 0x8d, 0x0c, 0x01 };

  prologue (cw);
  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RDX, GUM_ADDRESS (ring));
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, api.return_not));
  gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RAX, site + 1);
  gum_x86_writer_put_bytes (cw, lea, sizeof (lea));
  gum_x86_writer_put_jcc_short_label (cw, X86_INS_JRCXZ, hit, GUM_NO_HINT);
  epilogue (cw);
  gum_x86_writer_put_jmp_near_label (cw, skip);
  gum_x86_writer_put_label (cw, hit);
  epilogue (cw);
  gum_stalker_iterator_put_callout (iterator, callout, data, g_free);
  gum_x86_writer_put_label (cw, skip);
}

void
st_cpu_sync_registers (GumCpuContext * cpu, guint64 location, guint64 * values)
{
  values[ST_REG_X64_RAX] = cpu->rax;
  values[ST_REG_X64_RBX] = cpu->rbx;
  values[ST_REG_X64_RCX] = cpu->rcx;
  values[ST_REG_X64_RDX] = cpu->rdx;
  values[ST_REG_X64_RSI] = cpu->rsi;
  values[ST_REG_X64_RDI] = cpu->rdi;
  values[ST_REG_X64_RBP] = cpu->rbp;
  values[ST_REG_X64_RSP] = cpu->rsp;
  values[ST_REG_X64_R8] = cpu->r8;
  values[ST_REG_X64_R9] = cpu->r9;
  values[ST_REG_X64_R10] = cpu->r10;
  values[ST_REG_X64_R11] = cpu->r11;
  values[ST_REG_X64_R12] = cpu->r12;
  values[ST_REG_X64_R13] = cpu->r13;
  values[ST_REG_X64_R14] = cpu->r14;
  values[ST_REG_X64_R15] = cpu->r15;
  values[ST_REG_X64_RIP] = location;
}

guint64
st_cpu_sp (GumCpuContext * cpu)
{
  return cpu->rsp;
}

guint64
st_cpu_syscall_number (GumCpuContext * cpu)
{
  return cpu->rax;
}

void
st_cpu_syscall_args (GumCpuContext * cpu, guint64 args[6])
{
  args[0] = cpu->rdi;
  args[1] = cpu->rsi;
  args[2] = cpu->rdx;
  args[3] = cpu->r10;
  args[4] = cpu->r8;
  args[5] = cpu->r9;
}

guint64
st_cpu_return_value (GumCpuContext * cpu)
{
  return cpu->rax;
}

guint64
st_cpu_return_address (GumCpuContext * cpu)
{
  return *(const guint64 *) GSIZE_TO_POINTER (cpu->rsp);
}

void
st_cpu_call_args (GumCpuContext * cpu, guint n, guint64 * args)
{
  const guint64 regs[6] = { cpu->rdi, cpu->rsi, cpu->rdx, cpu->rcx, cpu->r8, cpu->r9 };
  guint i;
  for (i = 0; i != n; i++)
    args[i] = (i < 6) ? regs[i] : ((const guint64 *) GSIZE_TO_POINTER (cpu->rsp))[i - 5];
}

guint64
st_cpu_entry_sp_after_return (GumCpuContext * cpu)
{
  /* ret popped the return address the call pushed. */
  return cpu->rsp - 8;
}
