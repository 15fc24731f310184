#include "gates.h"
#include "ring.h"

#define ST_GATE_PAGE_BYTES 4096
/* PROT_READ | PROT_WRITE | PROT_EXEC */
#define ST_PROT_RWX 7

StGatePage *
st_gates_new (const gpointer targets[ST_GATE_COUNT])
{
  StGatePage * page = st_map_pages (ST_GATE_PAGE_BYTES, ST_PROT_RWX);
  guint i;

  if (page == NULL)
    return NULL;
  page->refill = GSIZE_TO_POINTER (st_ring_refill);
  for (i = 0; i != ST_GATE_COUNT; i++)
    page->targets[i] = targets[i];
  st_write_gate_code (page);
  return page;
}

void
st_gates_disarm (StGatePage * page)
{
  guint i;
  guint waited_ms = 0;

  page->refill = page->sink;
  for (i = 0; i != ST_GATE_COUNT; i++)
    page->targets[i] = NULL;
  st_release_fence ();
  /* A callout in progress finishes in microseconds: nothing it calls waits once recording stopped. */
  while (g_atomic_int_add (&page->inflight, 0) != 0 && waited_ms < 2000)
  {
    g_usleep (1000);
    waited_ms++;
  }
}
