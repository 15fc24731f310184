/* Runs until killed: THREADS threads (argv[2], default 1) each call tick() every millisecond
 * and sleep; every 10 ms the main thread writes the total count to argv[1], so a test can see
 * the process still working. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile long ticks;
__attribute__ ((noinline)) void tick (void) { __sync_fetch_and_add (&ticks, 1); }

static void *
run (void * data)
{
  (void) data;
  for (;;)
  {
    tick ();
    usleep (1000);
  }
  return NULL;
}

int
main (int argc, char ** argv)
{
  int threads = argc > 2 ? atoi (argv[2]) : 1;
  int i;
  pthread_t t;
  for (i = 1; i < threads; i++)
    pthread_create (&t, NULL, run, NULL);
  for (i = 0;; i++)
  {
    tick ();
    usleep (1000);
    if (i % 10 == 0)
    {
      FILE * f = fopen (argv[1], "w");
      if (f != NULL)
      {
        fprintf (f, "%ld\n", ticks);
        fclose (f);
      }
    }
  }
}
