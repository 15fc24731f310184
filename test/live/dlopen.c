/* Sleeps, then loads libplugin.so (path in argv[1]) and calls plugin_entry(25) three times. */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

int
main (int argc, char ** argv)
{
  void * lib;
  int (* entry) (int);
  int i, s = 0;
  usleep (300 * 1000);
  lib = dlopen (argv[1], RTLD_NOW);
  if (lib == NULL)
    return 1;
  entry = (int (*) (int)) dlsym (lib, "plugin_entry");
  for (i = 0; i != 3; i++)
    s += entry (25);
  printf ("%d\n", s);
  return 0;
}
