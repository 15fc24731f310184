/* longjmp out of three frames, 100 times; then 100 calls of after() from main. */
#include <setjmp.h>

static jmp_buf env;
__attribute__ ((noinline)) void deep3 (void) { longjmp (env, 1); }
__attribute__ ((noinline)) void deep2 (void) { deep3 (); }
__attribute__ ((noinline)) void deep1 (void) { deep2 (); }
__attribute__ ((noinline)) int after (int x) { return x + 1; }

int
main (void)
{
  volatile int sum = 0;
  int i;
  for (i = 0; i != 100; i++)
    if (!setjmp (env))
      deep1 ();
  for (i = 0; i != 100; i++)
    sum = after (sum);
  return sum == 100 ? 0 : 1;
}
