/*
 * The transformer's mutable state. Frida maps a CModule's own image read-only, so this lives
 * in memory the agent allocates and passes in as the symbol st_globals.
 */
#ifndef STALK_TRACE_GLOBALS_H
#define STALK_TRACE_GLOBALS_H

#include <glib.h>
#include "layout.generated.h"

/* Threads that may be forking at once (forks.h). */
#define ST_FORK_SLOTS 16

/* A thread that left Stalker to call fork (forks.h). */
typedef struct _StForkSlot StForkSlot;
struct _StForkSlot
{
  volatile guint32 tid;
  volatile gint state;
};

typedef struct _StGlobals StGlobals;
struct _StGlobals
{
  /* Event mask bits (ST_EVENT_*). */
  guint32 events;
  /* Written to as a barrier on ARM, where TinyCC has no fence builtin. */
  volatile gint fence;
  /* Sites left without a record: inside an exclusive load/store sequence, where a write would break it. */
  volatile guint64 skipped_sites;
  /* The refill stub and callout gates code Stalker made calls (gates.h). */
  struct _StGatePage * gates;
  /* --events insn: layout ids handed out so far, and whether writes of the flags register are recorded (--insn-flags). */
  volatile gint insn_layouts;
  gboolean insn_flags;
  /* --func: the function's entry; 0 when every record is wanted. */
  guint64 func_entry;
  /* Frida's own memory (agent, trampolines): a thread can be in it when following starts, and nothing there is recorded. */
  const StSilentRange * silent_ranges;
  guint silent_range_count;
  /* --apis: library functions to record (entry address -> StApiProto), the addresses right
     after call instructions, and the lock both are shared under. */
  GHashTable * api_entries;
  GHashTable * return_sites;
  GMutex * api_lock;
  /* --only-from-app: only calls returning into [app_start, app_end). */
  guint64 app_start;
  guint64 app_end;
  /* This process, for reading its own memory without faulting (0: not asked yet). */
  guint32 pid;
  /* The tracer, for what runs outside a ring's callouts (fork's return in the child). */
  struct _StTracer * tracer;
  /* Threads that left Stalker to call fork, until they are followed again. */
  StForkSlot forks[ST_FORK_SLOTS];
  /* Forks under way, and whether the JavaScript thread is parked meanwhile (forks.h). */
  volatile gint forks_under_way;
  volatile gint js_parked;
};

extern StGlobals st_globals;

#endif
