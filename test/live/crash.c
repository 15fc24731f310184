/* Calls tick() 50 times, then writes through a null pointer. */
#include <stdio.h>

__attribute__ ((noinline)) int tick (int x) { __asm__ volatile ("" ::: "memory"); return x + 1; }
__attribute__ ((noipa)) void fault (volatile int * p) { *p = 1; }

int
main (void)
{
  int i, s = 0;
  volatile int * volatile nowhere = 0;
  for (i = 0; i != 50; i++)
    s = tick (s);
  fault (nowhere);
  printf ("%d\n", s);
  return 0;
}
