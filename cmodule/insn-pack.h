/*
 * --events insn, in the drain: an insn record whose run already ran in the chunk is sent as the
 * XOR of its values with that earlier record's, zero bytes left out, in an insnpack record
 * (schemas/records.json insnPack). A loop's registers and addresses change in a few low bytes
 * from one iteration to the next, so the capture takes about a third of the bytes: what a slow
 * sink (a disk, a USB link) can take is what bounds a lossless recording.
 */
#ifndef STALK_TRACE_INSN_PACK_H
#define STALK_TRACE_INSN_PACK_H

#include <stdint.h>
#include "layout.generated.h"

/* What an entry may write past its end: each word is stored whole and the end moves on by its class's bytes. */
#define ST_INSN_PACK_OVERRUN (ST_SLOT_SIZE + ST_MAX_PAYLOAD_BYTES + 8)

typedef struct _StInsnPack StInsnPack;

struct _StInsnPack
{
  /* Each slot's latest insn record in the records read, the reference of the next one of its slot. */
  const uint8_t * refs[ST_INSN_PACK_REF_SLOTS];
  /* The insnpack record being filled (0: none), where its entries end, the records they stand for, from where, and their bytes. */
  uint8_t * record;
  uint8_t * end;
  uint32_t count;
  const uint8_t * first;
  uint32_t replaced;
  /* insnpack records written. */
  uint32_t packs;
};

void st_insn_pack_begin (StInsnPack * p);
/*
 * The record at `record`, read in order: the reference it can be sent against (0: none, it goes
 * as it is). Either way it becomes the reference of its slot.
 */
const uint8_t * st_insn_pack_reference (StInsnPack * p, const uint8_t * record);
/*
 * Sends `record` against `ref` into the insnpack record open at `out`, or opened there; returns
 * where the entries end. Nothing else may be written after it until st_insn_pack_close.
 */
uint8_t * st_insn_pack_add (StInsnPack * p, uint8_t * out, const uint8_t * record, const uint8_t * ref);
/*
 * Ends the open insnpack record, if any: returns where it ends, or where the records it stood
 * for end, copied as they are in its place when the pack was not the smaller. `out`: returned
 * when none is open.
 */
uint8_t * st_insn_pack_close (StInsnPack * p, uint8_t * out);

#endif
