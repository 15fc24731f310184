/* main -> mid -> leaf, exactly 1000 times; outside() runs before and after, away from mid. */
#include <stdio.h>

__attribute__ ((noinline)) int leaf (int x) { __asm__ volatile ("" ::: "memory"); return x * 3 + 1; }
__attribute__ ((noinline)) int mid (int x) { return leaf (x) + 2; }
__attribute__ ((noinline)) int outside (int x) { return leaf (x) - 1; }

int
main (void)
{
  int i, sum = outside (1);
  for (i = 0; i != 1000; i++)
    sum += mid (i);
  sum += outside (2);
  printf ("%d\n", sum);
  return 0;
}
