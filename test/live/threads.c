/* Two threads with known call counts each: worker_a calls step 300 times, worker_b 700 times. */
#include <pthread.h>
#include <stdio.h>

__attribute__ ((noinline)) int step (int x) { __asm__ volatile ("" ::: "memory"); return x + 1; }

static void * worker_a (void * arg) { int i, s = 0; for (i = 0; i != 300; i++) s = step (s); return (void *) (long) s; }
static void * worker_b (void * arg) { int i, s = 0; for (i = 0; i != 700; i++) s = step (s); return (void *) (long) s; }

int
main (void)
{
  pthread_t a, b;
  void * ra;
  void * rb;
  pthread_create (&a, NULL, worker_a, NULL);
  pthread_join (a, &ra);
  pthread_create (&b, NULL, worker_b, NULL);
  pthread_join (b, &rb);
  printf ("%ld %ld\n", (long) ra, (long) rb);
  return 0;
}
