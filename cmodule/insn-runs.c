#include "insn-runs.h"
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
