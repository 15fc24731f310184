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

/*
 * rax = the address memory operand `op` names, from the registers as they were at the
 * instruction; uses rcx. FALSE: a form not handled (gs-relative, a register of no address).
 */
static gboolean
load_operand_address (GumX86Writer * cw, const cs_insn * insn, const cs_x86_op * op)
{
  /* lea rax, [rcx + rax * scale + disp32] */
  guint8 lea[8] = { 0x48, 0x8d, 0x84, 0x01, 0, 0, 0, 0 };
  /* mov rcx, fs:[0]: glibc and bionic keep the thread pointer (fs's base) there. */
  const guint8 fs_base[9] = { 0x64, 0x48, 0x8b, 0x0c, 0x25, 0, 0, 0, 0 };
  /* lea rax, [rax + rcx] */
  const guint8 add_rcx[4] = { 0x48, 0x8d, 0x04, 0x08 };
  guint scale_bits = op->mem.scale == 8 ? 3 : op->mem.scale == 4 ? 2 : op->mem.scale == 2 ? 1 : 0;

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
  lea[3] = (guint8) ((scale_bits << 6) | 0x01);
  *(gint32 *) (lea + 4) = (gint32) op->mem.disp;
  gum_x86_writer_put_bytes (cw, lea, sizeof (lea));
  if (op->mem.segment == X86_REG_FS)
  {
    gum_x86_writer_put_bytes (cw, fs_base, sizeof (fs_base));
    gum_x86_writer_put_bytes (cw, add_rcx, sizeof (add_rcx));
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
  gconstpointer to_restore = cw->code + 5;
  gconstpointer recording = cw->code + 6;
  guint size = call_length != 0 ? 2 * ST_SLOT_SIZE : ST_SLOT_SIZE;

  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RDX, GUM_ADDRESS (ring));
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, recording));
  if (call_length == 0)
  {
    gum_x86_writer_put_jcc_short_label (cw, X86_INS_JRCXZ, restore, GUM_NO_HINT);
  }
  else
  {
    /* jrcxz reaches 127 bytes: the longer call record skips through a near jump. */
    gum_x86_writer_put_jcc_short_label (cw, X86_INS_JRCXZ, to_restore, GUM_NO_HINT);
    gum_x86_writer_put_jmp_short_label (cw, recording);
    gum_x86_writer_put_label (cw, to_restore);
    gum_x86_writer_put_jmp_near_label (cw, restore);
    gum_x86_writer_put_label (cw, recording);
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

/* --events insn (insn-runs.h): between two instructions, in one prologue, the steps transform asks for. */

/* rdx = the record of the run under way. */
static void
load_record (GumX86Writer * cw, StRing * ring)
{
  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RDX, GUM_ADDRESS (ring));
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RDX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, insn_record));
}

/* [rdx + at] = `bytes` bytes read from [rax], zero-padded to whole words; uses rcx. */
static void
copy_memory (GumX86Writer * cw, guint bytes, gint32 at)
{
  /* movzx ecx, byte [rax]; movzx ecx, word [rax]; mov ecx, [rax] */
  static const guint8 load8[3] = { 0x0f, 0xb6, 0x08 };
  static const guint8 load16[3] = { 0x0f, 0xb7, 0x08 };
  static const guint8 load32[2] = { 0x8b, 0x08 };
  guint i;

  if (bytes < 8)
  {
    if (bytes == 1)
      gum_x86_writer_put_bytes (cw, load8, sizeof (load8));
    else if (bytes == 2)
      gum_x86_writer_put_bytes (cw, load16, sizeof (load16));
    else
      gum_x86_writer_put_bytes (cw, load32, sizeof (load32));
    gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, at, GUM_X86_RCX);
    return;
  }
  for (i = 0; i != bytes; i += 8)
  {
    gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RAX, i);
    gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, at + i, GUM_X86_RCX);
  }
}

/* [rdx + at] = the vector register's value: movdqu for xmm, vmovdqu for ymm. */
static void
store_vector (GumX86Writer * cw, guint8 id, gint32 at)
{
  guint8 code[10];
  guint n = 0;
  guint index;

  if (id >= ST_REG_X64_WIDE_BASE)
  {
    index = id - ST_REG_X64_WIDE_BASE;
    code[n++] = 0xc5;
    code[n++] = index < 8 ? 0xfe : 0x7e;
  }
  else
  {
    index = id - ST_REG_X64_VECTOR_BASE;
    code[n++] = 0xf3;
    if (index >= 8)
      code[n++] = 0x44;
    code[n++] = 0x0f;
  }
  code[n++] = 0x7f;
  /* mod 10 (disp32), reg = the vector register, rm = rdx */
  code[n++] = (guint8) (0x80 | ((index & 7) << 3) | 0x02);
  memcpy (code + n, &at, 4);
  gum_x86_writer_put_bytes (cw, code, n + 4);
}

static void
store_written_register (GumX86Writer * cw, const StInsnValue * v)
{
  if (v->reg >= ST_REG_X64_VECTOR_BASE)
  {
    store_vector (cw, v->reg, v->offset);
    return;
  }
  if (v->reg == ST_REG_X64_RFLAGS)
  {
    gum_x86_writer_put_pushfx (cw);
    gum_x86_writer_put_pop_reg (cw, GUM_X86_RCX);
  }
  else if (v->source == X86_REG_RAX || v->source == X86_REG_RCX || v->source == X86_REG_RDX || v->source == X86_REG_RSP)
  {
    load_original (cw, GUM_X86_RCX, v->source);
  }
  else
  {
    gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, v->offset, gum_reg (v->source));
    return;
  }
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, v->offset, GUM_X86_RCX);
}

/* After an instruction ran: the registers it wrote, and what its writes left in memory. */
static void
store_after (GumX86Writer * cw, StRing * ring, const StInsnValue * values, guint count)
{
  guint i;
  load_record (cw, ring);
  for (i = 0; i != count; i++)
  {
    const StInsnValue * v = &values[i];
    if (v->before || (v->flags & ST_INSN_VALUE_UNRECORDED) != 0)
      continue;
    if (v->what == ST_INSN_VALUE_REG)
    {
      store_written_register (cw, v);
    }
    else
    {
      gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RAX, GUM_X86_RDX, v->offset);
      copy_memory (cw, v->bytes, v->offset + 8);
    }
  }
}

/* rax = the address a memory value is at; uses rcx. FALSE: a form not handled. */
static gboolean
load_access_address (GumX86Writer * cw, const cs_insn * insn, const StInsnValue * v)
{
  switch (v->operand)
  {
    case ST_ACCESS_PUSH: return gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RAX, GUM_X86_RSP, SAVED - 8);
    case ST_ACCESS_POP: return gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RAX, GUM_X86_RSP, SAVED);
    case ST_ACCESS_LEAVE: return load_original (cw, GUM_X86_RAX, X86_REG_RBP);
    default: return load_operand_address (cw, insn, &insn->detail->x86.operands[v->operand]);
  }
}

/*
 * Before an instruction runs: the address of each memory access (the registers may change),
 * a read's value, and what a branch leaves behind.
 */
static void
store_before (GumX86Writer * cw, StRing * ring, const cs_insn * insn, const StInsnValue * values, guint count)
{
  guint i;

  for (i = 0; i != count; i++)
  {
    const StInsnValue * v = &values[i];
    if (v->what == ST_INSN_VALUE_REG)
    {
      if (!v->before || (v->flags & ST_INSN_VALUE_UNRECORDED) != 0)
        continue;
      load_original (cw, GUM_X86_RCX, v->source);
      gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RCX, GUM_X86_RCX, v->delta);
      load_record (cw, ring);
      gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, v->offset, GUM_X86_RCX);
      continue;
    }
    /* insn-values-x86_64.c flags the forms this cannot compute as unrecorded: their address is 0. */
    if (!load_access_address (cw, insn, v))
      gum_x86_writer_put_mov_reg_u32 (cw, GUM_X86_EAX, 0);
    load_record (cw, ring);
    gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, v->offset, GUM_X86_RAX);
    if (!v->before || (v->flags & ST_INSN_VALUE_UNRECORDED) != 0)
      continue;
    if (v->has_constant)
    {
      gum_x86_writer_put_mov_reg_u64 (cw, GUM_X86_RCX, v->constant);
      gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, v->offset + 8, GUM_X86_RCX);
    }
    else
    {
      copy_memory (cw, v->bytes, v->offset + 8);
    }
  }
}

/* Publishes the run's record: cur moves to its end (to where it was, while not recording). */
static void
close_run (GumX86Writer * cw, StRing * ring)
{
  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RAX, GUM_ADDRESS (ring));
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RAX, G_STRUCT_OFFSET (StRing, insn_end));
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RAX, G_STRUCT_OFFSET (StRing, cur), GUM_X86_RCX);
}

/* lea rcx, [rcx + disp32], with a disp32 st_patch_insn_run fills in: returns where. */
static gpointer
lea_rcx_to_patch (GumX86Writer * cw, GumX86Reg base)
{
  gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RCX, base, 0x10000);
  return cw->code - 4;
}

/*
 * Reserves the run's record: a window too short for it (and the one slot every window keeps)
 * is ended first, as a two-slot record does. The record's size is known only when the run
 * ends: st_patch_insn_run writes it into this code then.
 */
static void
open_run (GumX86Writer * cw, StRing * ring, StRun * run)
{
  gconstpointer off = cw->code;
  gconstpointer room = cw->code + 1;
  gconstpointer have = cw->code + 2;
  /* movzx ecx, byte [rdx + disp32]: the probe's sign byte */
  guint8 sign[7] = { 0x0f, 0xb6, 0x8a, 0, 0, 0, 0 };
  gint32 sign_at = G_STRUCT_OFFSET (StRing, insn_probe) + 7;

  memcpy (sign + 3, &sign_at, 4);
  gum_x86_writer_put_mov_reg_address (cw, GUM_X86_RDX, GUM_ADDRESS (ring));
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, recording));
  gum_x86_writer_put_jcc_short_label (cw, X86_INS_JRCXZ, off, GUM_NO_HINT);
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, remaining));
  run->patches[0] = lea_rcx_to_patch (cw, GUM_X86_RCX);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, insn_probe), GUM_X86_RCX);
  gum_x86_writer_put_bytes (cw, sign, sizeof (sign));
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
  run->patches[2] = lea_rcx_to_patch (cw, GUM_X86_RAX);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, insn_end), GUM_X86_RCX);
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, remaining));
  run->patches[3] = lea_rcx_to_patch (cw, GUM_X86_RCX);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, remaining), GUM_X86_RCX);
  gum_x86_writer_put_jmp_short_label (cw, have);
  gum_x86_writer_put_label (cw, off);
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RCX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, cur));
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, insn_end), GUM_X86_RCX);
  gum_x86_writer_put_mov_reg_reg_offset_ptr (cw, GUM_X86_RAX, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, scratch));
  gum_x86_writer_put_label (cw, have);
  /* Values go after the record's first slot: insn_record points at the payload. */
  gum_x86_writer_put_lea_reg_reg_offset (cw, GUM_X86_RAX, GUM_X86_RAX, ST_SLOT_SIZE);
  gum_x86_writer_put_mov_reg_offset_ptr_reg (cw, GUM_X86_RDX, G_STRUCT_OFFSET (StRing, insn_record), GUM_X86_RAX);
}

void
st_patch_insn_run (const StRun * run)
{
  gint32 size = (gint32) st_run_record_size (run);
  gint32 probe = -(size + ST_SLOT_SIZE);
  gint32 used = -size;
  guint64 word0 = st_record_word0 (run->start, ST_KIND_INSN, (size - ST_SLOT_SIZE) / ST_SLOT_SIZE);

  memcpy (run->patches[0], &probe, 4);
  memcpy (run->patches[1], &word0, 8);
  memcpy (run->patches[2], &size, 4);
  memcpy (run->patches[3], &used, 4);
}

void
st_emit_insn_boundary (GumStalkerOutput * output, StRing * ring, const StInsnBoundary * b)
{
  GumX86Writer * cw = output->writer.x86;
  guint i;

  prologue (cw);
  for (i = 0; i != b->step_count; i++)
  {
    switch (b->steps[i])
    {
      case ST_STEP_AFTER: store_after (cw, ring, b->after, b->after_count); break;
      case ST_STEP_CLOSE: close_run (cw, ring); break;
      case ST_STEP_OPEN: open_run (cw, ring, b->run); break;
      case ST_STEP_BEFORE: store_before (cw, ring, b->insn, b->before, b->before_count); break;
    }
  }
  epilogue (cw);
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
