/* A function that recurses: down(10) calls itself 10 times and leaf() 11 times, and main calls it
   twice, with other calls before, between and after. */
#include <stdio.h>

__attribute__ ((noinline)) int leaf (int x) { __asm__ volatile ("" ::: "memory"); return x + 1; }
__attribute__ ((noinline)) int other (int x) { return leaf (x) * 2; }

__attribute__ ((noinline)) int
down (int n)
{
  if (n == 0)
    return leaf (0);
  return down (n - 1) + leaf (n);
}

int
main (void)
{
  int sum = other (1);
  sum += down (10);
  sum += other (2);
  sum += down (10);
  sum += other (3);
  printf ("%d\n", sum);
  return 0;
}
