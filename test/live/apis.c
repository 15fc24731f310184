/* Library calls with known arguments: open a path, write a string, connect to a closed port. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
main (int argc, char ** argv)
{
  const char * message = "stalk-trace was here\n";
  struct sockaddr_in address;
  char line[64];
  FILE * file;
  int fd, s, connected;

  if (argc != 3)
    return 2;
  fd = open (argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  write (fd, message, strlen (message));
  close (fd);

  s = socket (AF_INET, SOCK_STREAM, 0);
  memset (&address, 0, sizeof (address));
  address.sin_family = AF_INET;
  address.sin_port = htons (atoi (argv[2]));
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  connected = connect (s, (struct sockaddr *) &address, sizeof (address));
  close (s);

  /* stdio calls malloc, read and more inside the C library: --only-from-app leaves those out. */
  file = fopen (argv[1], "r");
  fgets (line, sizeof (line), file);
  fclose (file);
  return connected == -1 && strcmp (line, message) == 0 ? 0 : 1;
}
