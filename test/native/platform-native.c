/* platform.h for the native ring tests: libc and pthreads in place of Frida's GLib. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include "layout.generated.h"
#include "platform.h"

/* x86 orders stores and loads among themselves; this keeps the compiler from reordering. */
void st_release_fence (void) { __asm__ __volatile__ ("" ::: "memory"); }
void st_acquire_fence (void) { __asm__ __volatile__ ("" ::: "memory"); }

void
st_futex_wait (volatile uint32_t * word, uint32_t expected, uint32_t timeout_ms)
{
  struct timespec ts = { timeout_ms / 1000, (long) (timeout_ms % 1000) * 1000000 };
  syscall (SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &ts, NULL, 0);
}

void
st_futex_wake (volatile uint32_t * word)
{
  syscall (SYS_futex, word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

uint64_t
st_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + ts.tv_nsec;
}

uint64_t
st_thread_cpu_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* As Frida's gum_memory_read does it on Linux: the kernel copies, and stops at the first fault. */
uint32_t
st_read_memory (uint64_t address, void * into, uint32_t size)
{
  struct iovec local = { into, size };
  struct iovec remote = { (void *) (uintptr_t) address, size };
  ssize_t n = process_vm_readv (getpid (), &local, 1, &remote, 1, 0);
  return n < 0 ? 0 : (uint32_t) n;
}

void * st_alloc (uint64_t size) { return calloc (1, size); }
void st_free (void * p) { free (p); }
void * st_map_pages (uint64_t size, int prot)
{
  void * p = mmap (NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? 0 : p;
}
void st_unmap_pages (void * p, uint64_t size) { munmap (p, size); }
uint32_t st_gettid (void) { return (uint32_t) syscall (SYS_gettid); }
int st_thread_alive (uint32_t tid) { return syscall (SYS_tgkill, getpid (), tid, 0) == 0; }

int st_pipe_open (int fds[2]) { return pipe2 (fds, O_CLOEXEC) == 0 ? 0 : -1; }

int
st_pipe_reader_gone (int fd)
{
  struct pollfd pending = { fd, POLLOUT, 0 };
  return poll (&pending, 1, 0) == 1 && (pending.revents & POLLERR) != 0;
}

int
st_file_open_append (const char * path)
{
  int fd = open (path, O_WRONLY | O_APPEND | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

int
st_file_append (int fd, const StPiece * pieces, uint32_t count)
{
  struct iovec vectors[ST_MAX_PIECES];
  uint64_t total = 0;
  uint32_t i;
  ssize_t n;
  for (i = 0; i != count; i++)
  {
    vectors[i].iov_base = (void *) pieces[i].data;
    vectors[i].iov_len = pieces[i].size;
    total += pieces[i].size;
  }
  do
    n = writev (fd, vectors, (int) count);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return errno;
  return (uint64_t) n == total ? 0 : ST_WRITE_CUT_SHORT;
}

void st_fd_close (int fd) { close (fd); }

struct _StThread { pthread_t thread; void (* func) (void *); void * data; };

static void *
thread_main (void * data)
{
  StThread * t = data;
  t->func (t->data);
  return NULL;
}

StThread *
st_thread_start (const char * name, void (* func) (void * data), void * data)
{
  StThread * t = calloc (1, sizeof (StThread));
  (void) name;
  t->func = func;
  t->data = data;
  pthread_create (&t->thread, NULL, thread_main, t);
  return t;
}

void
st_thread_join (StThread * t)
{
  pthread_join (t->thread, NULL);
  free (t);
}

struct _StLock { pthread_mutex_t mutex; };

StLock *
st_lock_new (void)
{
  StLock * lock = calloc (1, sizeof (StLock));
  pthread_mutex_init (&lock->mutex, NULL);
  return lock;
}

void st_lock_free (StLock * lock) { pthread_mutex_destroy (&lock->mutex); free (lock); }
void st_lock (StLock * lock) { pthread_mutex_lock (&lock->mutex); }
void st_unlock (StLock * lock) { pthread_mutex_unlock (&lock->mutex); }
