/* The live bench's target: work() makes N calls to tiny(), timed inside the process, and the
 * nanoseconds are written to the file named by argv[2]. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "timing.h"

__attribute__ ((noipa)) long tiny (long x) { return x + 1; }

__attribute__ ((noipa)) long
work (long n)
{
  long i, s = 0;
  for (i = 0; i != n; i++)
    s = tiny (s);
  return s;
}

int
main (int argc, char ** argv)
{
  struct timespec a, b;
  long n = atol (argv[1]);
  clock_gettime (CLOCK_MONOTONIC, &a);
  long s = work (n);
  clock_gettime (CLOCK_MONOTONIC, &b);
  write_timing (argv[2], &a, &b, (long long) s);
  return 0;
}
