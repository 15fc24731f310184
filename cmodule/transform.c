/*
 * The Stalker transformer: for each block a followed thread is about to run, records what the
 * agent asked for (schemas/records.json kinds) with inline writers, syscalls and library calls
 * with callouts (they read memory), and each block's code once, at compile time, for offline
 * disassembly.
 */
#include "apis.h"
#include "syscalls.h"
#include "forks.h"

/* The agent allocates st_globals without seeing this struct: it gives ST_GLOBALS_SPACE bytes. */
_Static_assert (sizeof (StGlobals) <= ST_GLOBALS_SPACE, "StGlobals outgrew the ST_GLOBALS_SPACE bytes the agent gives it");

guint64
st_skipped_site_count (void)
{
  return st_globals.skipped_sites;
}

/* `ranges` stays owned by the agent, which keeps it alive. */
void
st_set_silent_ranges (const StSilentRange * ranges, guint count)
{
  st_globals.silent_ranges = ranges;
  st_globals.silent_range_count = count;
}

static gboolean
is_silent (guint64 address)
{
  guint i;
  for (i = 0; i != st_globals.silent_range_count; i++)
  {
    if (address >= st_globals.silent_ranges[i].start && address < st_globals.silent_ranges[i].end)
      return TRUE;
  }
  return FALSE;
}

/* --func: record only inside the function at `entry`. */
void
st_set_func_entry (guint64 entry)
{
  st_globals.func_entry = entry;
}

/* --func: recording opens at the function's entry; the outermost activation is the one that counts. */
static void
on_func_enter (GumCpuContext * cpu, gpointer user_data)
{
  StRing * ring = user_data;
  if (ring->recording || ring->tracer->orphaned || ring->tracer->stopping)
    return;
  ring->func_sp_not = ~st_cpu_sp (cpu);
  ring->recording = 1;
}

/* NULL when the gate page cannot be mapped: the agent then refuses to record. */
StTracer *
st_init (guint32 events, guint64 outbox_capacity)
{
  const gpointer callouts[ST_GATE_COUNT] = {
    [ST_GATE_FUNC_ENTER] = on_func_enter, [ST_GATE_API_ENTER] = st_on_api_enter, [ST_GATE_API_RETURN] = st_on_api_return,
    [ST_GATE_SYSCALL] = st_on_syscall, [ST_GATE_SYSRET] = st_on_sysret,
  };
  StTracer * tracer;

  st_globals.events = events;
  st_globals.gates = st_gates_new (callouts);
  if (st_globals.gates == NULL)
    return NULL;
  if ((events & ST_EVENT_API) != 0)
    st_apis_init ();
  tracer = st_tracer_new (outbox_capacity);
  st_tracer_start (tracer);
  st_globals.tracer = tracer;
  return tracer;
}

/*
 * After the last drain: no ring records any more, and nothing reached from Stalker's code runs
 * this module's code once this returns, so the agent can be unloaded while followed threads are
 * still inside Stalker's code (one blocked in a syscall wakes after the detach).
 */
void
st_disarm (StTracer * tracer)
{
  st_tracer_silence (tracer);
  st_gates_disarm (st_globals.gates);
}

static GumStalkerCallout
gate (StGateId id)
{
  return (GumStalkerCallout) st_globals.gates->gates[id];
}

static StSite *
site_new (StRing * ring, guint64 location, const StApiProto * proto)
{
  StSite * site = g_malloc0 (sizeof (StSite));
  site->ring = ring;
  site->location = location;
  site->proto = proto;
  return site;
}

static void
put_site_callout (GumStalkerIterator * iterator, GumStalkerCallout callout, StRing * ring, guint64 location,
    const StApiProto * proto)
{
  gum_stalker_iterator_put_callout (iterator, callout, site_new (ring, location, proto), g_free);
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
  gboolean silent = FALSE;
  gboolean apis = (st_globals.events & ST_EVENT_API) != 0;

  while (gum_stalker_iterator_next (iterator, &insn))
  {
    StInsnKind kind = st_classify (insn);
    gboolean open = !exclusive && gum_stalker_iterator_get_memory_access (iterator) == GUM_MEMORY_ACCESS_OPEN;
    gboolean wanted;

    if (start == 0 && !silent && is_silent (insn->address))
      silent = TRUE;
    if (silent)
    {
      /*
       * Frida's memory records nothing, but for one thing: Interceptor runs a hooked function's
       * first instructions from a copy there, and a call among them is the program's own.
       */
      guint64 target = st_direct_call_target (insn);
      if (target != 0 && !is_silent (target) && (st_globals.events & ST_EVENT_CALL) != 0 && open)
        st_emit_call (output, ring, insn);
      gum_stalker_iterator_keep (iterator);
      continue;
    }

    if (start == 0)
    {
      start = insn->address;
      if (start == st_globals.func_entry)
        gum_stalker_iterator_put_callout (iterator, gate (ST_GATE_FUNC_ENTER), ring, NULL);
      if (apis)
      {
        const StApiProto * proto = st_api_entry (start);
        /* The check writes to the stack: not inside an exclusive load/store sequence. */
        if (st_api_is_return_site (start))
        {
          if (open)
            st_emit_api_return_check (iterator, output, ring, start, gate (ST_GATE_API_RETURN), site_new (ring, start, NULL));
          else
            st_globals.skipped_sites++;
        }
        if (proto != NULL)
          put_site_callout (iterator, gate (ST_GATE_API_ENTER), ring, start, proto);
      }
      if ((st_globals.events & ST_EVENT_BLOCK) != 0)
      {
        if (open)
          block_patch = st_emit_block (output, ring, start);
        else
          st_globals.skipped_sites++;
      }
    }
    end = insn->address + insn->size;

    if (pending_sysret != 0)
    {
      put_site_callout (iterator, gate (ST_GATE_SYSRET), ring, pending_sysret, NULL);
      pending_sysret = 0;
    }

    if ((st_globals.events & ST_EVENT_EXEC) != 0)
    {
      if (open)
        st_emit_exec (output, ring, insn);
      else
        st_globals.skipped_sites++;
    }

    wanted = (kind == ST_INSN_CALL && (st_globals.events & ST_EVENT_CALL) != 0) ||
        (kind == ST_INSN_RET && (st_globals.events & ST_EVENT_RET) != 0);
    if (wanted && !open)
      st_globals.skipped_sites++;
    else if (wanted && kind == ST_INSN_CALL)
      st_emit_call (output, ring, insn);
    else if (wanted)
      st_emit_ret (output, ring, insn);
    if (kind == ST_INSN_RET && st_globals.func_entry != 0 && open)
      st_emit_func_exit_check (output, ring);
    else if (kind == ST_INSN_SYSCALL && (st_globals.events & ST_EVENT_SYSCALL) != 0)
    {
      put_site_callout (iterator, gate (ST_GATE_SYSCALL), ring, insn->address, NULL);
      pending_sysret = insn->address;
    }
    if (kind == ST_INSN_CALL && apis)
      st_api_note_return_site (insn->address + insn->size);
    if (kind == ST_INSN_EXCLUSIVE_LOAD)
      exclusive = TRUE;
    else if (kind == ST_INSN_EXCLUSIVE_END)
      exclusive = FALSE;

    gum_stalker_iterator_keep (iterator);
  }

  if (block_patch != NULL)
    st_patch_block_end (block_patch, end);
  if ((st_globals.events & ST_EVENT_COMPILE) != 0 && start != 0)
  {
    guint64 size = end - start;
    st_ring_write (ring, ST_KIND_COMPILE, start, end, GSIZE_TO_POINTER (start),
        (guint32) MIN (size, ST_MAX_PAYLOAD_BYTES));
  }
}
