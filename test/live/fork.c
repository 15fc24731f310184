/* A parent and a forked child with calls of their own: 50 to in_parent, 100 to in_child. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int __attribute__ ((noinline)) in_child (int x) { return x * 3; }
int __attribute__ ((noinline)) in_parent (int x) { return x + 1; }

int
main (void)
{
  volatile int sum = 0;
  int status = 0;
  int i;
  pid_t child = fork ();

  if (child == 0)
  {
    for (i = 0; i != 100; i++)
      sum += in_child (i);
    exit (sum == 3 * 4950 ? 0 : 1);
  }
  for (i = 0; i != 50; i++)
    sum += in_parent (i);
  waitpid (child, &status, 0);
  return WIFEXITED (status) && WEXITSTATUS (status) == 0 && sum == 1275 ? 0 : 1;
}
