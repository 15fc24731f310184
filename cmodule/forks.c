#include "forks.h"
#include "globals.h"
#include "ring.h"

enum { ST_FORK_FREE, ST_FORK_UNFOLLOWED, ST_FORK_WAITING, ST_FORK_REFOLLOWED };

static StForkSlot *
slot_of (guint32 tid)
{
  guint i;
  for (i = 0; i != ST_FORK_SLOTS; i++)
  {
    if (st_globals.forks[i].tid == tid && st_globals.forks[i].state != ST_FORK_FREE)
      return &st_globals.forks[i];
  }
  return NULL;
}

/* Only TinyCC-safe atomics here: g_atomic_int_add (0: a read) and plain stores with fences. */
static void
set_state (StForkSlot * s, gint state)
{
  st_release_fence ();
  s->state = state;
  st_release_fence ();
}

/* Called from JavaScript, so one thread at a time (the runtime's lock): claiming needs no atomics. */
void
st_fork_note_unfollowed (guint32 tid)
{
  guint i;
  for (i = 0; i != ST_FORK_SLOTS; i++)
  {
    StForkSlot * s = &st_globals.forks[i];
    if (g_atomic_int_add (&s->state, 0) == ST_FORK_FREE)
    {
      s->tid = tid;
      set_state (s, ST_FORK_UNFOLLOWED);
      g_atomic_int_add (&st_globals.forks_under_way, 1);
      return;
    }
  }
  /* More threads forking at once than there are slots: this one runs on unfollowed. */
}

gint
st_fork_park (void)
{
  guint waited_ms = 0;
  gint under_way;

  st_globals.js_parked = 1;
  st_futex_wake ((volatile uint32_t *) &st_globals.js_parked);
  /* Bounded: a fork that never returns must not stop the agent for good. */
  while ((under_way = g_atomic_int_add (&st_globals.forks_under_way, 0)) > 0 && waited_ms < 5000)
  {
    st_futex_wait ((volatile uint32_t *) &st_globals.forks_under_way, (uint32_t) under_way, 1);
    waited_ms++;
  }
  st_globals.js_parked = 0;
  st_release_fence ();
  return under_way;
}

void
st_on_fork_enter (GumInvocationContext * ic)
{
  guint waited_ms = 0;
  (void) ic;
  if (slot_of (st_gettid ()) == NULL)
    return;
  while (g_atomic_int_add (&st_globals.js_parked, 0) == 0 && waited_ms < 1000)
  {
    st_futex_wait ((volatile uint32_t *) &st_globals.js_parked, 0, 1);
    waited_ms++;
  }
}

void
st_on_fork_leave (GumInvocationContext * ic)
{
  StForkSlot * s;
  guint waited_ms = 0;

  if (gum_invocation_context_get_return_value (ic) == NULL)
  {
    /* The child: recording is over for it; st_tracer_orphan takes no lock. */
    st_tracer_orphan (st_globals.tracer);
    return;
  }
  s = slot_of (st_gettid ());
  if (s == NULL)
    return;
  /* The fork is done: the JavaScript thread may run again, and find this thread waiting to be followed. */
  set_state (s, ST_FORK_WAITING);
  g_atomic_int_add (&st_globals.forks_under_way, -1);
  st_futex_wake ((volatile uint32_t *) &st_globals.forks_under_way);
  while (g_atomic_int_add (&s->state, 0) == ST_FORK_WAITING && waited_ms < 2000)
  {
    st_futex_wait ((volatile uint32_t *) &s->state, ST_FORK_WAITING, 1);
    waited_ms++;
  }
  s->tid = 0;
  set_state (s, ST_FORK_FREE);
}

guint32
st_fork_waiting (void)
{
  guint i;
  for (i = 0; i != ST_FORK_SLOTS; i++)
  {
    if (g_atomic_int_add (&st_globals.forks[i].state, 0) == ST_FORK_WAITING)
      return st_globals.forks[i].tid;
  }
  return 0;
}

void
st_fork_refollowed (guint32 tid)
{
  StForkSlot * s = slot_of (tid);
  if (s == NULL)
    return;
  set_state (s, ST_FORK_REFOLLOWED);
  st_futex_wake ((volatile uint32_t *) &s->state);
}
