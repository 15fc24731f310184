/* The instruction bench's target: work() runs N iterations of an FNV-style hash over a 256-entry
 * table, one load and one store each, timed inside the process; the nanoseconds are written to the
 * file named by argv[2]. No calls inside the loop, so --events call records nothing there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "timing.h"

static uint32_t table[256];

__attribute__ ((noipa)) uint32_t
work (long n)
{
  uint32_t h = 2166136261u;
  long i;
  for (i = 0; i != n; i++)
  {
    h = (h ^ table[h & 255]) * 16777619u;
    table[i & 255] = h;
  }
  return h;
}

int
main (int argc, char ** argv)
{
  struct timespec a, b;
  long n = atol (argv[1]);
  int i;
  for (i = 0; i != 256; i++)
    table[i] = (uint32_t) i * 2654435761u;
  clock_gettime (CLOCK_MONOTONIC, &a);
  uint32_t h = work (n);
  clock_gettime (CLOCK_MONOTONIC, &b);
  write_timing (argv[2], &a, &b, (long long) h);
  return 0;
}
