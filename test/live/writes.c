/* Ten write() calls of known sizes to stdout; the tenth to a closed descriptor fails with EBADF. */
#include <unistd.h>

int
main (void)
{
  int i;
  for (i = 0; i != 9; i++)
    write (1, "0123456789", (size_t) i + 1);
  write (77, "x", 1);
  return 0;
}
