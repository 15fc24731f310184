/*
 * The Stalker transformer: for each block a followed thread is about to run, records what the
 * agent asked for (schemas/records.json kinds) with inline writers, syscalls with callouts,
 * and each block's code once, at compile time, for offline disassembly.
 */
#include "emit.h"

/* Event mask bits (ST_EVENT_*), set once by st_init. */
static guint32 st_events;

/* Sites left without a record: inside an exclusive load/store sequence, where a write would break it. */
volatile guint64 st_skipped_sites;

StTracer *
st_init (guint32 events, gpointer stub_code, guint64 outbox_capacity)
{
  StTracer * tracer;

  st_events = events;
  st_write_refill_stub (stub_code);
  st_refill_stub = stub_code;
  tracer = st_tracer_new (outbox_capacity);
  st_tracer_start (tracer);
  return tracer;
}

static void
put_syscall_callout (GumStalkerIterator * iterator, StRing * ring, guint64 location, gboolean after)
{
  StSyscallSite * site = g_malloc0 (sizeof (StSyscallSite));
  site->ring = ring;
  site->location = location;
  gum_stalker_iterator_put_callout (iterator, after ? st_on_sysret : st_on_syscall, site, g_free);
}

void
transform (GumStalkerIterator * iterator, GumStalkerOutput * output, gpointer user_data)
{
  StRing * ring = user_data;
  const cs_insn * insn;
  guint64 pending_sysret = 0;
  guint64 start = 0;
  guint64 end = 0;
  gpointer block_patch = NULL;
  gboolean exclusive = FALSE;

  while (gum_stalker_iterator_next (iterator, &insn))
  {
    StInsnKind kind = st_classify (insn);
    gboolean open = !exclusive && gum_stalker_iterator_get_memory_access (iterator) == GUM_MEMORY_ACCESS_OPEN;
    gboolean wanted;

    if (start == 0)
    {
      start = insn->address;
      if ((st_events & ST_EVENT_BLOCK) != 0)
      {
        if (open)
          block_patch = st_emit_block (output, ring, start);
        else
          st_skipped_sites++;
      }
    }
    end = insn->address + insn->size;

    if (pending_sysret != 0)
    {
      put_syscall_callout (iterator, ring, pending_sysret, TRUE);
      pending_sysret = 0;
    }

    if ((st_events & ST_EVENT_EXEC) != 0)
    {
      if (open)
        st_emit_exec (output, ring, insn);
      else
        st_skipped_sites++;
    }

    wanted = (kind == ST_INSN_CALL && (st_events & ST_EVENT_CALL) != 0) ||
        (kind == ST_INSN_RET && (st_events & ST_EVENT_RET) != 0);
    if (wanted && !open)
      st_skipped_sites++;
    else if (wanted && kind == ST_INSN_CALL)
      st_emit_call (output, ring, insn);
    else if (wanted)
      st_emit_ret (output, ring, insn);
    else if (kind == ST_INSN_SYSCALL && (st_events & ST_EVENT_SYSCALL) != 0)
    {
      put_syscall_callout (iterator, ring, insn->address, FALSE);
      pending_sysret = insn->address;
    }
    else if (kind == ST_INSN_EXCLUSIVE_LOAD)
      exclusive = TRUE;
    else if (kind == ST_INSN_EXCLUSIVE_END)
      exclusive = FALSE;

    gum_stalker_iterator_keep (iterator);
  }

  if (block_patch != NULL)
    st_patch_block_end (block_patch, end);
  if ((st_events & ST_EVENT_COMPILE) != 0 && start != 0)
  {
    guint64 size = end - start;
    st_ring_write (ring, ST_KIND_COMPILE, start, end, GSIZE_TO_POINTER (start),
        (guint32) MIN (size, 255 * ST_SLOT_SIZE));
  }
}
