/*
 * --apis: a thread's library calls that have not returned yet, innermost last.
 *
 * A call is entered at its function's first instruction and left at its return address, which
 * the transformer checks inline at the start of every block that follows a call instruction:
 * return_not holds the complement of the innermost return address, so that check is one add
 * and a jump on zero, with no flags changed.
 *
 * A frame is told from a recursive activation by its stack pointer at entry. Frames whose
 * stack is gone (longjmp, exceptions, a tail call from one library function into another,
 * or a return the transformer could not see) are dropped when the next call enters at or above
 * them; they are the calls stored without a return.
 */
#ifndef STALK_TRACE_API_STACK_H
#define STALK_TRACE_API_STACK_H

#include "layout.generated.h"

#define ST_API_DEPTH 32

typedef struct _StApiFrame StApiFrame;
struct _StApiFrame
{
  uint64_t function;
  uint64_t return_address;
  /* The stack pointer at the function's first instruction. */
  uint64_t entry_sp;
  const StApiProto * proto;
  uint64_t args[ST_API_MAX_ARGS];
};

typedef struct _StApiStack StApiStack;
struct _StApiStack
{
  volatile uint64_t return_not;
  uint32_t depth;
  StApiFrame frames[ST_API_DEPTH];
};

/* A call enters `function`; NULL when the stack is full (the call is recorded untracked). */
StApiFrame * st_api_stack_enter (StApiStack * s, uint64_t function, uint64_t return_address, uint64_t entry_sp);

/*
 * Code at `site` runs with the stack pointer the innermost call had at its entry (`entry_sp`,
 * as the architecture derives it after a return): the frame that returned there, or NULL.
 * The frame stays readable until the next enter.
 */
StApiFrame * st_api_stack_leave (StApiStack * s, uint64_t site, uint64_t entry_sp);

#endif
