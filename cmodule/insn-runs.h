/*
 * --events insn: a run is a stretch of one block's instructions that execute together. The
 * transformer describes it once, in an insnlayout record, and the code it emits stores each
 * execution's values into one insn record reserved when the run starts and published when it
 * ends (schemas/records.json insnLayout). Runs end where something else writes into the ring
 * (a syscall's callouts, a call or return record) and where a record would outgrow its slots.
 */
#ifndef STALK_TRACE_INSN_RUNS_H
#define STALK_TRACE_INSN_RUNS_H

#include <glib.h>
#include "insn-values.h"
#include "ring.h"

#define ST_RUN_MAX_INSNS 64
#define ST_RUN_MAX_ENTRIES 256

/* The two registers a run holds while it executes (insnRegisters ids): its record's payload, and a scratch value. */
typedef struct _StRunRegisters StRunRegisters;
struct _StRunRegisters
{
  guint8 base;
  guint8 temp;
};

typedef struct _StRun StRun;
struct _StRun
{
  guint64 start;
  guint32 layout_id;
  guint insn_count;
  guint8 lengths[ST_RUN_MAX_INSNS];
  guint entry_count;
  StInsnLayoutEntry entries[ST_RUN_MAX_ENTRIES];
  guint values_size;
  StRunRegisters held;
  /* Where the code that opened the run holds what depends on its final size (emit-*.c). */
  gpointer patches[4];
};

void st_run_begin (StRun * run, guint64 start);
/* Whether an instruction with these values still fits the run's record and layout. */
gboolean st_run_fits (const StRun * run, const StInsnValue * values, guint count);
/* Adds the instruction, giving each of its values its offset in the record. */
void st_run_add (StRun * run, guint insn_size, StInsnValue * values, guint count);
/* Bytes of the insn record: its first slot and its values, in whole slots. */
guint st_run_record_size (const StRun * run);
/* The first word of the run's record: kind insnopen while it runs, insn once it ended. */
guint64 st_run_word0 (const StRun * run, guint kind);
/*
 * Chooses the registers a run starting at `insn` (NULL: at the block's end) holds, from the
 * arch's `pool`: two that no instruction reads or writes from there on in the block, as far as
 * it can read ahead, nor any in `exclude` (insnRegisters id bits).
 */
void st_run_choose_registers (csh capstone, const cs_insn * insn, guint64 exclude, const guint8 * pool, guint pool_size,
    StRun * run);
/* Whether `insn` leaves the run's registers alone, so it can join the run. */
gboolean st_run_accepts (csh capstone, const cs_insn * insn, const StRun * run);
/* The run's insnlayout record, written into the compiling thread's ring ahead of any execution. */
void st_run_write_layout (StRing * ring, const StRun * run);

#endif
