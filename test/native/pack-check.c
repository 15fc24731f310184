/*
 * The drain's packing of insn records (cmodule/insn-pack.c, called from ring.c), on records a
 * test wrote: every record of IN (ring records back to back, as a thread writes them) is written
 * into a ring, which the drain thread empties into an outbox that nobody takes until the thread's
 * last record is drained; the outbox is then written to OUT, its chunks back to back. Records
 * that fit in the ring but for two blocks are all written before the drain starts, so that its
 * chunks are whole blocks, whatever the scheduling; more are drained while they are written.
 *
 * pack-check IN OUT MODE
 * MODE always: every chunk is packed, as when messages carry them; slow-sink or fast-sink: the
 * local device's policy, where chunks are packed once the outbox holds ST_PACK_BEHIND_BYTES not
 * yet taken if the writer found the capture a slow sink, as it is told here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ring.h"

#define OUTBOX_BYTES (64u << 20)

static uint8_t *
read_all (const char * path, size_t * size)
{
  FILE * f = fopen (path, "rb");
  uint8_t * data;
  if (f == NULL)
    return NULL;
  fseek (f, 0, SEEK_END);
  *size = (size_t) ftell (f);
  fseek (f, 0, SEEK_SET);
  data = malloc (*size + 1);
  if (fread (data, 1, *size, f) != *size)
    *size = 0;
  fclose (f);
  return data;
}

int
main (int argc, char ** argv)
{
  size_t size = 0;
  size_t at;
  uint8_t * in;
  uint8_t * out;
  uint64_t n;
  StTracer * t;
  StRing * ring;
  FILE * f;
  int fits;

  if (argc != 4 || (strcmp (argv[3], "always") != 0 && strcmp (argv[3], "slow-sink") != 0 && strcmp (argv[3], "fast-sink") != 0))
  {
    fprintf (stderr, "usage: pack-check IN OUT always|slow-sink|fast-sink\n");
    return 2;
  }
  in = read_all (argv[1], &size);
  if (in == NULL || size == 0)
  {
    fprintf (stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  t = st_tracer_new (OUTBOX_BYTES);
  if (strcmp (argv[3], "always") == 0)
    t->packing = ST_PACK_ALWAYS;
  t->sink_slow = strcmp (argv[3], "slow-sink") == 0;
  fits = size <= (ST_RING_BLOCKS - 2) * ST_BLOCK_SIZE;
  if (!fits)
    st_tracer_start (t);
  ring = st_ring_new (t, 1, 0, 1);
  for (at = 0; at < size;)
  {
    const StRecord * r = (const StRecord *) (in + at);
    unsigned kind = (unsigned) (r->word[ST_REC_KIND_WORD] >> ST_REC_KIND_SHIFT) & 0xff;
    unsigned aux = (unsigned) (r->word[ST_REC_AUX_WORD] >> ST_REC_AUX_SHIFT) & 0xff;
    uint64_t location = r->word[ST_REC_LOCATION_WORD] >> ST_REC_LOCATION_SHIFT;
    uint64_t target = r->word[ST_REC_TARGET_WORD] >> ST_REC_TARGET_SHIFT;
    st_ring_write (ring, kind, location, target, in + at + ST_SLOT_SIZE, aux * ST_SLOT_SIZE);
    at += ST_SLOT_SIZE * (1 + aux);
  }
  if (fits)
    st_tracer_start (t);
  st_ring_end (ring, 0);
  st_tracer_stop (t);
  n = st_outbox_take (t, &out);
  f = fopen (argv[2], "wb");
  if (f == NULL || fwrite (out, 1, n, f) != n || fclose (f) != 0)
  {
    fprintf (stderr, "cannot write %s\n", argv[2]);
    return 2;
  }
  return 0;
}
