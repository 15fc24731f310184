/* The --apis bench's target: N calls to the C library's strlen, timed inside the process, the
 * nanoseconds written to the file named by argv[2]. Built with -fno-builtin so each is a call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "timing.h"

int
main (int argc, char ** argv)
{
  const char * text = "a short string";
  struct timespec a, b;
  long n = atol (argv[1]);
  volatile size_t s = 0;
  long i;
  clock_gettime (CLOCK_MONOTONIC, &a);
  for (i = 0; i != n; i++)
    s += strlen (text + (i & 3));
  clock_gettime (CLOCK_MONOTONIC, &b);
  write_timing (argv[2], &a, &b, (long long) s);
  return 0;
}
