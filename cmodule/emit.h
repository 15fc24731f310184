/*
 * What an architecture provides to the transformer: inline code that writes one-slot records
 * into the thread's ring (the hot path, no callouts), the code of the gate page (gates.h: the
 * refill stub inline writers call when a window is used up, the callout gates), the inline
 * checks --func and --apis need, and the CPU context as the callouts read it.
 */
#ifndef STALK_TRACE_EMIT_H
#define STALK_TRACE_EMIT_H

#include <gum/gumstalker.h>
#include "gates.h"
#include "globals.h"
#include "insn-runs.h"
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

/* Where in a record the inline writers store its two words: st_record_word0's, and the target's. */
#define ST_WORD0_AT G_STRUCT_OFFSET (StRecord, word[ST_REC_LOCATION_WORD])
#define ST_TARGET_WORD_AT G_STRUCT_OFFSET (StRecord, word[ST_REC_TARGET_WORD])

StInsnKind st_classify (const cs_insn * insn);
/*
 * Keeps the instruction, after whatever records it: Stalker runs it, except where Stalker cannot
 * run it as it is on this architecture (emit-arm64.c: authenticated returns, syscalls).
 */
void st_keep (GumStalkerIterator * iterator, GumStalkerOutput * output, const cs_insn * insn, StInsnKind kind);
/* A call whose target is in the instruction itself: that target; otherwise 0. */
guint64 st_direct_call_target (const cs_insn * insn);


void st_emit_call (GumStalkerOutput * output, StRing * ring, const cs_insn * insn);
void st_emit_ret (GumStalkerOutput * output, StRing * ring, const cs_insn * insn);
void st_emit_exec (GumStalkerOutput * output, StRing * ring, const cs_insn * insn);
/* A block record whose end is not known yet: returns where st_patch_block_end puts it. */
gpointer st_emit_block (GumStalkerOutput * output, StRing * ring, guint64 start);
void st_patch_block_end (gpointer patch, guint64 end);

/* --func: code before each return closes recording when the outermost activation returns. */
void st_emit_func_exit_check (GumStalkerOutput * output, StRing * ring);

/* Where a callout was put, for which thread; with the prototype for a library function's entry. */
typedef struct _StSite StSite;
struct _StSite
{
  StRing * ring;
  guint64 location;
  const StApiProto * proto;
};

/*
 * --apis: at a block where a call may return, `callout` runs only if the thread's innermost
 * pending library call returns to `site` (ring->api.return_not holds that return address's
 * complement). `data` is freed with the block.
 */
void st_emit_api_return_check (GumStalkerIterator * iterator, GumStalkerOutput * output, StRing * ring, guint64 site,
    GumStalkerCallout callout, StSite * data);

/*
 * --events insn: the code between two instructions, in steps (transform.c): after stores what
 * the instruction that just ran left (the registers and memory it wrote), close publishes the
 * run's record, open reserves one for `run`, before stores what the next instruction is about to
 * read, the addresses it touches, and what a branch leaves behind. `held`: the run's registers.
 */
void st_emit_insn_after (GumStalkerOutput * output, StRunRegisters held, const StInsnValue * values, guint count);
void st_emit_insn_close (GumStalkerOutput * output, StRing * ring, StRunRegisters held, guint64 word0);
void st_emit_insn_open (GumStalkerOutput * output, StRing * ring, StRun * run);
void st_emit_insn_before (GumStalkerOutput * output, StRunRegisters held, const cs_insn * insn, const StInsnValue * values,
    guint count);
/* The registers a run starting at `insn` holds (st_run_choose_registers, from the arch's pool). */
void st_choose_run_registers (csh capstone, const cs_insn * insn, guint64 exclude, StRun * run);
/* Once the run is complete: its record's size and first word into the code that opened it. */
void st_patch_insn_run (const StRun * run);

/* The CPU context as the callouts read it. */
guint64 st_cpu_sp (GumCpuContext * cpu);
guint64 st_cpu_syscall_number (GumCpuContext * cpu);
void st_cpu_syscall_args (GumCpuContext * cpu, guint64 args[ST_SYSCALL_ARGS]);
guint64 st_cpu_return_value (GumCpuContext * cpu);
/* At a function's first instruction: its return address and its first n arguments. */
guint64 st_cpu_return_address (GumCpuContext * cpu);
void st_cpu_call_args (GumCpuContext * cpu, guint n, guint64 * args);
#if defined (__x86_64__)
# define ST_SYNC_REGISTERS ST_REG_X64_SYNC_COUNT
#else
# define ST_SYNC_REGISTERS ST_REG_ARM64_SYNC_COUNT
#endif
/* The registers an insnsync record carries (records.json insnRegisters sync), at `location`. */
void st_cpu_sync_registers (GumCpuContext * cpu, guint64 location, guint64 * values);
/* Where a function just returned to: the stack pointer it had at its first instruction. */
guint64 st_cpu_entry_sp_after_return (GumCpuContext * cpu);

#endif
