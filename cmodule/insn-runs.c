#include "insn-runs.h"
#include "emit.h"
#include "globals.h"

void
st_run_begin (StRun * run, guint64 start)
{
  run->start = start;
  run->layout_id = (guint32) g_atomic_int_add (&st_globals.insn_layouts, 1) + 1;
  run->insn_count = 0;
  run->entry_count = 0;
  run->values_size = 0;
  memset (run->patches, 0, sizeof (run->patches));
}

static guint
values_size (const StInsnValue * values, guint count)
{
  guint size = 0;
  guint i;
  for (i = 0; i != count; i++)
    size += st_insn_value_size (&values[i]);
  return size;
}

gboolean
st_run_fits (const StRun * run, const StInsnValue * values, guint count)
{
  return run->insn_count < ST_RUN_MAX_INSNS && run->entry_count + count <= ST_RUN_MAX_ENTRIES &&
      run->values_size + values_size (values, count) <= ST_MAX_PAYLOAD_BYTES;
}

void
st_run_add (StRun * run, guint insn_size, StInsnValue * values, guint count)
{
  guint i;
  for (i = 0; i != count; i++)
  {
    StInsnLayoutEntry * e = &run->entries[run->entry_count++];
    values[i].offset = (guint16) run->values_size;
    e->insn = (guint8) run->insn_count;
    e->what = values[i].what;
    e->reg = values[i].reg;
    e->flags = values[i].flags;
    e->bytes = values[i].bytes;
    e->offset = values[i].offset;
    run->values_size += st_insn_value_size (&values[i]);
  }
  run->lengths[run->insn_count++] = (guint8) insn_size;
}

guint
st_run_record_size (const StRun * run)
{
  return ST_SLOT_SIZE + (run->values_size + ST_SLOT_SIZE - 1) / ST_SLOT_SIZE * ST_SLOT_SIZE;
}

guint64
st_run_word0 (const StRun * run, guint kind)
{
  return st_record_word0 (run->start, kind, (st_run_record_size (run) - ST_SLOT_SIZE) / ST_SLOT_SIZE);
}

void
st_run_write_layout (StRing * ring, const StRun * run)
{
  guint lengths = (run->insn_count + ST_INSN_LENGTHS_ALIGN - 1) / ST_INSN_LENGTHS_ALIGN * ST_INSN_LENGTHS_ALIGN;
  guint size = sizeof (StInsnLayoutHeader) + lengths + run->entry_count * sizeof (StInsnLayoutEntry);
  guint8 * payload = g_malloc0 (size);
  StInsnLayoutHeader * header = (StInsnLayoutHeader *) payload;

  header->insn_count = (guint16) run->insn_count;
  header->entry_count = (guint16) run->entry_count;
  header->values_size = (guint16) run->values_size;
  memcpy (payload + sizeof (StInsnLayoutHeader), run->lengths, run->insn_count);
  memcpy (payload + sizeof (StInsnLayoutHeader) + lengths, run->entries, run->entry_count * sizeof (StInsnLayoutEntry));
  st_ring_write (ring, ST_KIND_INSNLAYOUT, run->start, run->layout_id, payload, size);
  g_free (payload);
}

static gboolean
ends_run (csh capstone, const cs_insn * insn)
{
  return st_classify (insn) == ST_INSN_SYSCALL || st_insn_is_branch (capstone, insn);
}

void
st_run_choose_registers (csh capstone, const cs_insn * insn, guint64 exclude, const guint8 * pool, guint pool_size,
    StRun * run)
{
  guint64 used = exclude | (insn != NULL ? st_insn_registers_used (capstone, insn) : 0);
  cs_insn * ahead = NULL;
  gsize count = 0;
  guint chosen = 0;
  gsize i;
  guint k;

  if (insn != NULL && !ends_run (capstone, insn))
  {
    /* Read ahead no further than this page: the next may not be mapped. */
    gsize size = MIN (((insn->address | 0xfff) + 1) - insn->address, 1024);
    count = cs_disasm (capstone, GSIZE_TO_POINTER (insn->address), size, insn->address, ST_RUN_MAX_INSNS, &ahead);
  }

  /* The longest stretch that leaves two registers free: the run splits where an instruction needs them. */
  for (i = 1; i < count; i++)
  {
    guint64 more = used | st_insn_registers_used (capstone, &ahead[i]);
    guint free = 0;
    for (k = 0; k != pool_size; k++)
      free += (more & ((guint64) 1 << pool[k])) == 0;
    if (free < 2)
      break;
    used = more;
    if (ends_run (capstone, &ahead[i]))
      break;
  }
  if (ahead != NULL)
    cs_free (ahead, count);
  for (k = 0; k != pool_size && chosen != 2; k++)
  {
    if ((used & ((guint64) 1 << pool[k])) != 0)
      continue;
    if (chosen++ == 0)
      run->held.base = pool[k];
    else
      run->held.temp = pool[k];
  }
}

gboolean
st_run_accepts (csh capstone, const cs_insn * insn, const StRun * run)
{
  guint64 held = ((guint64) 1 << run->held.base) | ((guint64) 1 << run->held.temp);
  return (st_insn_registers_used (capstone, insn) & held) == 0;
}
