/* Known syscalls and library calls, from a constructor (marked by getppid) to an exit handler:
 * for comparing with strace, ltrace and uftrace on the same program. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile size_t total;

static void
at_exit (void)
{
  write (1, "bye\n", 4);
}

__attribute__ ((constructor)) static void
early (void)
{
  total += (size_t) getppid ();
}

__attribute__ ((noinline)) static size_t
measure (const char * s)
{
  return strlen (s);
}

int
main (int argc, char ** argv)
{
  int i;
  atexit (at_exit);
  for (i = 0; i != 3; i++)
  {
    char * p = malloc (64);
    int fd = open ("/etc/hostname", O_RDONLY);
    total += (size_t) read (fd, p, 63);
    close (fd);
    free (p);
  }
  for (i = 0; i != 7; i++)
    total += measure (argc > 1 ? argv[1] : "seven");
  for (i = 0; i != 5; i++)
    write (1, "x\n", 2);
  total += (size_t) getpid ();
  return total == 0;
}
