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

/* --events insn: every register, so that the values later records carry rebuild the whole state. */
static void
write_insn_sync (StRing * ring, GumCpuContext * cpu, guint64 location, guint reason)
{
  guint64 registers[ST_SYNC_REGISTERS];
  st_cpu_sync_registers (cpu, location, registers);
  st_ring_write (ring, ST_KIND_INSNSYNC, location, reason, registers, sizeof (registers));
  ring->insn_synced = 1;
}

/* --events insn without --func: at the first block the thread runs. */
static void
on_insn_sync (GumCpuContext * cpu, gpointer user_data)
{
  StSite * site = user_data;
  if (site->ring->recording && !site->ring->insn_synced)
    write_insn_sync (site->ring, cpu, site->location, ST_INSN_SYNC_START);
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
  if ((st_globals.events & ST_EVENT_INSN) != 0)
    write_insn_sync (ring, cpu, st_globals.func_entry, ST_INSN_SYNC_FUNC_ENTER);
}

/* --insn-flags: instruction records carry the flags register where an instruction writes it. */
void
st_set_insn_flags (gboolean flags)
{
  st_globals.insn_flags = flags;
}

/* NULL when the gate page cannot be mapped: the agent then refuses to record. */
StTracer *
st_init (guint32 events, guint64 outbox_capacity)
{
  const gpointer callouts[ST_GATE_COUNT] = {
    [ST_GATE_FUNC_ENTER] = on_func_enter, [ST_GATE_API_ENTER] = st_on_api_enter, [ST_GATE_API_RETURN] = st_on_api_return,
    [ST_GATE_SYSCALL] = st_on_syscall, [ST_GATE_SYSRET] = st_on_sysret, [ST_GATE_INSN_SYNC] = on_insn_sync,
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

/* --events insn: what the code between two instructions does, in this order. */
typedef enum
{
  /* Stores what the instruction that just ran left: the registers it wrote, the memory it wrote. */
  ST_STEP_AFTER,
  /* Publishes the run's record. */
  ST_STEP_CLOSE,
  /* Reserves a record for `run`. */
  ST_STEP_OPEN,
  /* Stores what `insn` is about to read, the addresses it touches, and what a branch leaves behind. */
  ST_STEP_BEFORE
} StInsnStep;

typedef struct _StInsnBoundary StInsnBoundary;
struct _StInsnBoundary
{
  /* At most: open, after (a syscall's results), before, close; a run that ends before another starts is a boundary of its own. */
  StInsnStep steps[4];
  guint step_count;
  const StInsnValue * after;
  guint after_count;
  /* The registers of the run the after step stores into, and of the run the close step ends. */
  StRunRegisters after_held;
  StRunRegisters close_held;
  /* The first word of the closed run's record, complete. */
  guint64 close_word0;
  /* The run the open step starts and the before step stores into. */
  StRun * run;
  const cs_insn * insn;
  const StInsnValue * before;
  guint before_count;
};

/*
 * --events insn (insn-runs.h): what the transformer carries from one instruction to the next
 * within a block.
 */
typedef struct _StInsnState StInsnState;
struct _StInsnState
{
  StRing * ring;
  csh capstone;
  gboolean run_open;
  StRun run;
  /* What the instruction that just ran left to store after it. */
  StInsnValue after[ST_INSN_MAX_VALUES];
  guint after_count;
  /* A syscall runs outside runs (its callouts write records): its results open the next run. */
  gboolean syscall_pending;
  guint64 syscall_address;
  guint syscall_size;
  /* The run ends in code not emitted yet, whose size goes into code not emitted yet either. */
  gboolean finish_after_emit;
};

static void
boundary_step (StInsnBoundary * b, StInsnStep step)
{
  b->steps[b->step_count++] = step;
}

/* The run is complete: its record's size goes into the code that opened it, its layout into the ring. */
static void
finish_run (StInsnState * s)
{
  st_patch_insn_run (&s->run);
  st_run_write_layout (s->ring, &s->run);
}

static void
end_run (StInsnState * s, StInsnBoundary * b)
{
  boundary_step (b, ST_STEP_CLOSE);
  b->close_held = s->run.held;
  b->close_word0 = st_run_word0 (&s->run, ST_KIND_INSN);
  s->run_open = FALSE;
  /* A run opened by this same boundary is finished once its code exists (emit_boundary). */
  if (s->run.patches[0] != NULL)
    finish_run (s);
  else
    s->finish_after_emit = TRUE;
}

static void
emit_boundary (GumStalkerOutput * output, StInsnState * s, const StInsnBoundary * b)
{
  guint i;

  for (i = 0; i != b->step_count; i++)
  {
    switch (b->steps[i])
    {
      case ST_STEP_AFTER: st_emit_insn_after (output, b->after_held, b->after, b->after_count); break;
      case ST_STEP_CLOSE: st_emit_insn_close (output, s->ring, b->close_held, b->close_word0); break;
      case ST_STEP_OPEN: st_emit_insn_open (output, s->ring, b->run); break;
      case ST_STEP_BEFORE: st_emit_insn_before (output, b->run->held, b->insn, b->before, b->before_count); break;
    }
  }
  if (s->finish_after_emit)
    finish_run (s);
  s->finish_after_emit = FALSE;
}

/* A run starts at `insn` (NULL: the block's end): with the results of the syscall that ran before it, if one did. */
static void
start_run (StInsnState * s, StInsnBoundary * b, const cs_insn * insn, guint64 address)
{
  guint64 results = 0;
  guint i;

  st_run_begin (&s->run, s->syscall_pending ? s->syscall_address : address);
  if (s->syscall_pending)
  {
    for (i = 0; i != s->after_count; i++)
    {
      if (s->after[i].what == ST_INSN_VALUE_REG)
        results |= (guint64) 1 << s->after[i].reg;
    }
  }
  st_choose_run_registers (s->capstone, insn, results, &s->run);
  s->run_open = TRUE;
  b->run = &s->run;
  boundary_step (b, ST_STEP_OPEN);
  if (s->syscall_pending)
  {
    st_run_add (&s->run, s->syscall_size, s->after, s->after_count);
    boundary_step (b, ST_STEP_AFTER);
    b->after_held = s->run.held;
    s->syscall_pending = FALSE;
  }
}

/*
 * Before `at`, where no run goes on: the last values and the end of the run under way, or the run
 * that holds a syscall's results. At the block's end (when Stalker ends a long block, not at a
 * branch), and before an exclusive load/store sequence.
 */
static void
insn_flush (GumStalkerOutput * output, StInsnState * s, guint64 at)
{
  StInsnBoundary b = { 0, };

  b.after = s->after;
  b.after_count = s->after_count;
  if (s->run_open)
  {
    boundary_step (&b, ST_STEP_AFTER);
    b.after_held = s->run.held;
    end_run (s, &b);
  }
  else if (s->syscall_pending)
  {
    start_run (s, &b, NULL, at);
    end_run (s, &b);
  }
  if (b.step_count != 0)
    emit_boundary (output, s, &b);
  s->after_count = 0;
}

/*
 * The code before `insn`: what the previous instruction left, the end of a run (before a
 * syscall, or when the record is full) and the start of the next, and what `insn` reads. A
 * branch ends its run here, as nothing after it runs in the block.
 */
static void
insn_before (GumStalkerOutput * output, StInsnState * s, const cs_insn * insn, StInsnKind kind, gboolean open)
{
  StInsnValue values[ST_INSN_MAX_VALUES];
  guint count;
  StInsnBoundary b = { 0, };
  gboolean branch = st_insn_is_branch (s->capstone, insn);

  /*
   * arm64: nothing is written from an exclusive load to its store (Stalker compiles whole blocks
   * of such a sequence as exclusive once it saw one run), so no run holds these instructions:
   * the run under way ends before the load, and each is a site left unrecorded, counted. The
   * store itself is one too: a block that starts with it starts inside the sequence.
   */
  if (!open || kind == ST_INSN_EXCLUSIVE_LOAD || kind == ST_INSN_EXCLUSIVE_END)
  {
    /* Where open is false the block's code before it was exclusive too: no run is under way. */
    if (open)
      insn_flush (output, s, insn->address);
    st_globals.skipped_sites++;
    return;
  }
  count = st_insn_values (s->capstone, insn, st_globals.insn_flags, values);

  b.after = s->after;
  b.after_count = s->after_count;
  if (s->run_open)
  {
    boundary_step (&b, ST_STEP_AFTER);
    b.after_held = s->run.held;
    if (kind == ST_INSN_SYSCALL || !st_run_fits (&s->run, values, count) || !st_run_accepts (s->capstone, insn, &s->run))
    {
      /* The run ends in code of its own: a boundary closes one run at most. */
      end_run (s, &b);
      emit_boundary (output, s, &b);
      memset (&b, 0, sizeof (b));
      b.after = s->after;
    }
  }
  if (kind == ST_INSN_SYSCALL)
  {
    if (b.step_count != 0)
      emit_boundary (output, s, &b);
    memcpy (s->after, values, count * sizeof (StInsnValue));
    s->after_count = count;
    s->syscall_pending = TRUE;
    s->syscall_address = insn->address;
    s->syscall_size = insn->size;
    return;
  }
  if (!s->run_open)
    start_run (s, &b, insn, insn->address);
  st_run_add (&s->run, insn->size, values, count);
  b.run = &s->run;
  b.insn = insn;
  b.before = values;
  b.before_count = count;
  boundary_step (&b, ST_STEP_BEFORE);
  if (branch)
    end_run (s, &b);
  emit_boundary (output, s, &b);
  memcpy (s->after, values, count * sizeof (StInsnValue));
  s->after_count = branch ? 0 : count;
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
  gboolean insns = (st_globals.events & ST_EVENT_INSN) != 0;
  StInsnState * state = NULL;

  if (insns)
  {
    state = g_new0 (StInsnState, 1);
    state->ring = ring;
    state->capstone = gum_stalker_iterator_get_capstone (iterator);
  }

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
      st_keep (iterator, output, insn, kind);
      continue;
    }

    if (start == 0)
    {
      start = insn->address;
      if (start == st_globals.func_entry)
        gum_stalker_iterator_put_callout (iterator, gate (ST_GATE_FUNC_ENTER), ring, NULL);
      if (insns && st_globals.func_entry == 0 && !ring->insn_sync_placed)
      {
        /* The first block a thread compiles is the first it runs. */
        put_site_callout (iterator, gate (ST_GATE_INSN_SYNC), ring, start, NULL);
        ring->insn_sync_placed = 1;
      }
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
    if (insns)
      insn_before (output, state, insn, kind, open);

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

    st_keep (iterator, output, insn, kind);
  }

  /* Code placed here runs when Stalker ends a block early (not at a branch), before it continues with the next. */
  if (pending_sysret != 0)
    put_site_callout (iterator, gate (ST_GATE_SYSRET), ring, pending_sysret, NULL);
  if (insns)
  {
    insn_flush (output, state, end);
    g_free (state);
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
