/*
 * fork() under recording. A thread that forks leaves Stalker for the call (the child must start
 * unfollowed). A lock another thread holds at the moment of fork stays held for ever in the
 * child, so while a fork is under way the agent's JavaScript thread is parked in native code,
 * where it holds no lock (the JavaScript runtime's included), and fork's return is seen natively.
 * The child stops recording; the parent's thread asks the JavaScript thread, running again, to
 * follow it again, and waits until it has.
 */
#ifndef STALK_TRACE_FORKS_H
#define STALK_TRACE_FORKS_H

#include <gum/guminterceptor.h>
#include "globals.h"

/* Before fork, from JavaScript: this thread left Stalker for the call; a fork is under way. */
void st_fork_note_unfollowed (guint32 tid);
/*
 * For the JavaScript thread, called as a NativeFunction (the runtime's lock is released
 * meanwhile): returns when no fork is under way (0), or after a few seconds with the number still
 * under way; the parents whose fork returned are then waiting (st_fork_waiting).
 */
gint st_fork_park (void);
/* fork's onEnter, native, after the JavaScript one: returns once the JavaScript thread is parked. */
void st_on_fork_enter (GumInvocationContext * ic);
/* fork's onLeave, native. */
void st_on_fork_leave (GumInvocationContext * ic);
/* A thread waiting to be followed again after its fork (0: none). */
guint32 st_fork_waiting (void);
/* The agent followed it: it may go on. */
void st_fork_refollowed (guint32 tid);

#endif
