/*
 * The transformer's mutable state. Frida maps a CModule's own image read-only, so this lives
 * in memory the agent allocates and passes in as the symbol st_globals.
 */
#ifndef STALK_TRACE_GLOBALS_H
#define STALK_TRACE_GLOBALS_H

#include <glib.h>

typedef struct _StRange StRange;
struct _StRange
{
  guint64 start;
  guint64 end;
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
  /* The refill stub every inline writer calls. */
  gpointer refill_stub;
  /* --func: the function's entry; 0 when every record is wanted. */
  guint64 func_entry;
  /* Frida's own memory (agent, trampolines): a thread can be in it when following starts, and nothing there is recorded. */
  const StRange * silent_ranges;
  guint silent_range_count;
};

extern StGlobals st_globals;

#endif
