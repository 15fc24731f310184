/*
 * What an architecture provides to the transformer: inline code that writes one-slot records
 * into the thread's ring (the hot path, no callouts), the shared refill stub it calls when a
 * window is used up, and the syscall callouts.
 */
#ifndef STALK_TRACE_EMIT_H
#define STALK_TRACE_EMIT_H

#include <gum/gumstalker.h>
#include "globals.h"
#include "ring.h"

typedef enum
{
  ST_INSN_OTHER,
  ST_INSN_CALL,
  ST_INSN_RET,
  ST_INSN_SYSCALL,
  /* arm64 exclusive loads and stores: nothing may be written between them. */
  ST_INSN_EXCLUSIVE_LOAD,
  ST_INSN_EXCLUSIVE_END
} StInsnKind;

StInsnKind st_classify (const cs_insn * insn);

/* Writes the refill stub into `code` (writable and executable); returns its size. */
guint st_write_refill_stub (gpointer code);

void st_emit_call (GumStalkerOutput * output, StRing * ring, const cs_insn * insn);
void st_emit_ret (GumStalkerOutput * output, StRing * ring, const cs_insn * insn);
void st_emit_exec (GumStalkerOutput * output, StRing * ring, const cs_insn * insn);
/* A block record whose end is not known yet: returns where st_patch_block_end puts it. */
gpointer st_emit_block (GumStalkerOutput * output, StRing * ring, guint64 start);
void st_patch_block_end (gpointer patch, guint64 end);

/* Callouts around a syscall instruction; user_data is the thread's StSyscallSite. */
typedef struct _StSyscallSite StSyscallSite;
struct _StSyscallSite
{
  StRing * ring;
  guint64 location;
};

/* --func: opens recording at the function's entry (user_data is the ring)... */
void st_on_func_enter (GumCpuContext * cpu, gpointer user_data);
/* ...and code before each return closes it when the outermost activation returns. */
void st_emit_func_exit_check (GumStalkerOutput * output, StRing * ring);

void st_on_syscall (GumCpuContext * cpu, gpointer user_data);
void st_on_sysret (GumCpuContext * cpu, gpointer user_data);

#endif
