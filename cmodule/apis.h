/*
 * --apis: which library functions are recorded with their arguments (entry address -> the
 * agent's StApiProto), the return sites seen so far, and the callouts at both ends of a call.
 */
#ifndef STALK_TRACE_APIS_H
#define STALK_TRACE_APIS_H

#include "emit.h"

void st_apis_init (void);

/* `entries` is read here only; the prototypes it points to, the agent keeps alive. */
void st_api_add_entries (const StApiEntry * entries, guint n);
void st_api_remove_range (guint64 start, guint64 end);
/* --only-from-app: only calls that return into [start, end). */
void st_api_set_app_range (guint64 start, guint64 end);

const StApiProto * st_api_entry (guint64 address);
/* The address after a call instruction: code there may be where a library call returns. */
void st_api_note_return_site (guint64 address);
gboolean st_api_is_return_site (guint64 address);

/* Callouts; user_data is an StSite (for entry, with the prototype). */
void st_on_api_enter (GumCpuContext * cpu, gpointer user_data);
void st_on_api_return (GumCpuContext * cpu, gpointer user_data);

#endif
