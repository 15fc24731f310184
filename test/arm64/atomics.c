/* Atomic increments by exclusive load/store pairs, which nothing may come between: 1000 with the
   add between the load and the store, 1000 with a call to add_one there; then counted(), outside
   any pair, 1000 times. Exits 0 only with the right total. */
#include <stdio.h>

static unsigned counter;

/* Touches no memory, so it may run between an exclusive load and its store. */
__attribute__ ((noinline, used)) unsigned add_one (unsigned x) { return x + 1; }
__attribute__ ((noinline)) void counted (void) { __asm__ volatile ("" ::: "memory"); }

__attribute__ ((noinline)) void
increment (unsigned * p)
{
  unsigned value, failed;
  __asm__ volatile ("1: ldaxr %w0, [%2]\n"
                    "   add %w0, %w0, #1\n"
                    "   stlxr %w1, %w0, [%2]\n"
                    "   cbnz %w1, 1b"
                    : "=&r" (value), "=&r" (failed) : "r" (p) : "memory");
}

__attribute__ ((noinline)) void
increment_by_call (unsigned * p)
{
  register unsigned * at __asm__ ("x19") = p;
  __asm__ volatile ("1: ldaxr w0, [x19]\n"
                    "   bl add_one\n"
                    "   stlxr w1, w0, [x19]\n"
                    "   cbnz w1, 1b"
                    : : "r" (at)
                    : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15",
                      "x16", "x17", "x30", "memory", "cc");
}

int
main (void)
{
  int i;
  for (i = 0; i != 1000; i++)
    increment (&counter);
  for (i = 0; i != 1000; i++)
    increment_by_call (&counter);
  for (i = 0; i != 1000; i++)
    counted ();
  printf ("%u\n", counter);
  return counter == 2000 ? 0 : 1;
}
