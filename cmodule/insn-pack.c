#include <string.h>
#include "insn-pack.h"

static const uint8_t class_bytes[4] = {
  ST_INSN_PACK_CLASS0_BYTES, ST_INSN_PACK_CLASS1_BYTES, ST_INSN_PACK_CLASS2_BYTES, ST_INSN_PACK_CLASS3_BYTES
};

/* Entries store words at any byte. */
typedef uint64_t StUnalignedWord __attribute__ ((aligned (1), may_alias));

/* The class of a word XOR its reference's: the fewest bytes that hold it. Compares, as tcc has no bit-scan builtin. */
#define ST_PACK_CLASS(x) \
  (((x) != 0) + (((x) >> (8 * ST_INSN_PACK_CLASS1_BYTES)) != 0) + (((x) >> (8 * ST_INSN_PACK_CLASS2_BYTES)) != 0))

static uint32_t
payload_words (const uint8_t * record)
{
  return 2 * (uint32_t) (uint8_t) (((const StRecord *) record)->word[ST_REC_AUX_WORD] >> ST_REC_AUX_SHIFT);
}

/* The most an entry of this many words takes: its slot number, its classes and every word whole. */
static uint32_t
entry_bound (uint32_t words)
{
  return 1 + (words + 3) / 4 + 8 * words;
}

static uint32_t
ref_slot_of (const uint8_t * record)
{
  return (uint32_t) (((const StRecord *) record)->word[ST_REC_TARGET_WORD] >> ST_REC_TARGET_SHIFT) % ST_INSN_PACK_REF_SLOTS;
}

void
st_insn_pack_begin (StInsnPack * p)
{
  memset (p, 0, sizeof (StInsnPack));
}

const uint8_t *
st_insn_pack_reference (StInsnPack * p, const uint8_t * record)
{
  const StRecord * now = (const StRecord *) record;
  const StRecord * ref;
  uint32_t slot;

  if ((unsigned) ((now->word[ST_REC_KIND_WORD] >> ST_REC_KIND_SHIFT) & 0xff) != ST_KIND_INSN)
    return 0;
  slot = ref_slot_of (record);
  ref = (const StRecord *) p->refs[slot];
  p->refs[slot] = record;
  if (ref == 0 || ref->word[0] != now->word[0] || ref->word[1] != now->word[1])
    return 0;
  return entry_bound (payload_words (record)) <= ST_MAX_PAYLOAD_BYTES ? (const uint8_t *) ref : 0;
}

uint8_t *
st_insn_pack_add (StInsnPack * p, uint8_t * out, const uint8_t * record, const uint8_t * ref)
{
  const uint32_t words = payload_words (record);
  const uint64_t * now = (const uint64_t *) (record + ST_SLOT_SIZE);
  const uint64_t * before = (const uint64_t *) (ref + ST_SLOT_SIZE);
  uint8_t * classes;
  uint8_t * o;
  uint32_t w;

  if (p->record != 0 && (uint32_t) (p->end - p->record) - ST_SLOT_SIZE + entry_bound (words) > ST_MAX_PAYLOAD_BYTES)
    out = st_insn_pack_close (p, out);
  if (p->record == 0)
  {
    p->record = out;
    p->end = out + ST_SLOT_SIZE;
    p->count = 0;
    p->first = record;
    p->replaced = 0;
  }
  o = p->end;
  *o++ = (uint8_t) ref_slot_of (record);
  classes = o;
  o += (words + 3) / 4;
  /* Words come in pairs (a payload is whole slots): one pair's classes are a nibble. */
  for (w = 0; w != words; w += 2)
  {
    uint64_t x = now[w] ^ before[w];
    uint64_t y = now[w + 1] ^ before[w + 1];
    uint32_t cx = ST_PACK_CLASS (x);
    uint32_t cy = ST_PACK_CLASS (y);
    *(StUnalignedWord *) o = x;
    o += class_bytes[cx];
    *(StUnalignedWord *) o = y;
    o += class_bytes[cy];
    if ((w & 2) == 0)
      classes[w / 4] = (uint8_t) (cx | cy << 2);
    else
      classes[w / 4] |= (uint8_t) ((cx | cy << 2) << 4);
  }
  p->end = o;
  p->count++;
  p->replaced += ST_SLOT_SIZE + 8 * words;
  return o;
}

uint8_t *
st_insn_pack_close (StInsnPack * p, uint8_t * out)
{
  uint8_t * r = p->record;
  uint32_t used;
  uint32_t padded;

  if (r == 0)
    return out;
  p->record = 0;
  used = (uint32_t) (p->end - r) - ST_SLOT_SIZE;
  padded = (used + ST_SLOT_SIZE - 1) / ST_SLOT_SIZE * ST_SLOT_SIZE;
  if (ST_SLOT_SIZE + padded >= p->replaced)
  {
    memcpy (r, p->first, p->replaced);
    return r + p->replaced;
  }
  memset (p->end, 0, padded - used);
  st_record_set ((StRecord *) r, p->count, ST_KIND_INSNPACK, padded / ST_SLOT_SIZE, used);
  p->packs++;
  return r + ST_SLOT_SIZE + padded;
}
