/* A thread that raises SIGUSR1 50 times; the handler calls in_handler() once each. */
#include <signal.h>
#include <string.h>

static volatile int hits;
__attribute__ ((noinline)) void in_handler (int s) { hits += s > 0; }
static void handler (int s) { in_handler (s); in_handler (0); }
__attribute__ ((noinline)) void work (void) { hits += 0; }

int
main (void)
{
  struct sigaction sa;
  int i;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigaction (SIGUSR1, &sa, 0);
  for (i = 0; i != 50; i++)
  {
    work ();
    raise (SIGUSR1);
  }
  return hits == 50 ? 0 : 1;
}
