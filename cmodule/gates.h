/*
 * Everything code Stalker made for us calls outside that code: the refill stub and one gate per
 * callout, in one page mapped here and never unmapped. After the agent is unloaded (detach) a
 * thread that was blocked in a syscall inside Stalker's code may wake and run on there; the
 * CModule is gone by then, so the gates must not lead into it. Disarming makes the refill stub
 * reset the window instead of draining, and the gates return at once; it waits until no thread
 * is inside a callout any more, so the CModule can go.
 */
#ifndef STALK_TRACE_GATES_H
#define STALK_TRACE_GATES_H

#include <gum/gumstalker.h>

typedef enum
{
  ST_GATE_FUNC_ENTER,
  ST_GATE_API_ENTER,
  ST_GATE_API_RETURN,
  ST_GATE_SYSCALL,
  ST_GATE_SYSRET,
  ST_GATE_INSN_SYNC,
  ST_GATE_COUNT
} StGateId;

typedef struct _StGatePage StGatePage;
struct _StGatePage
{
  /* What the refill stub calls with the ring: st_ring_refill, then (disarmed) `sink`. */
  gpointer volatile refill;
  /* What each gate calls with the callout's arguments; NULL once disarmed. */
  gpointer volatile targets[ST_GATE_COUNT];
  /* Threads inside a gate's target now. */
  volatile gint inflight;
  /* Code in this page: the stub inline writers call, the routine that resets a window, the gates. */
  gpointer refill_stub;
  gpointer sink;
  gpointer gates[ST_GATE_COUNT];
  guint8 code[];
};

/* Maps the page and writes its code, armed: the refill stub drains, the gates call `targets`. */
StGatePage * st_gates_new (const gpointer targets[ST_GATE_COUNT]);
/* From now on nothing reached from Stalker's code runs CModule code; returns once none does. */
void st_gates_disarm (StGatePage * page);

/* Writes the architecture's code into page->code and sets the code pointers; returns its size. */
guint st_write_gate_code (StGatePage * page);

#endif
