/* platform.h inside the target: GLib from Frida's CModule runtime, and libc's syscall(). */
#include <glib.h>
#include <gum/gummemory.h>
#include <string.h>
#include "globals.h"
#include "platform.h"
#include "syscalls.generated.h"

/* The syscalls made here are Linux's (Android is Linux too), numbered for the architecture compiled for. */
#if !defined (__linux__)
# error "stalk-trace records Linux and Android targets only: it makes Linux's syscalls"
#endif

extern long syscall (long number, ...);
/* libc's errno, which syscall() sets: __errno_location (glibc) or __errno (bionic), as the agent finds it. */
extern int * st_errno_location (void);

#define ST_FUTEX_WAIT_PRIVATE 128
#define ST_FUTEX_WAKE_PRIVATE 129

#if defined (__aarch64__)
/* TinyCC has no barrier builtin on ARM: a GLib atomic (sequentially consistent) orders both ways. */
void
st_release_fence (void)
{
  g_atomic_int_add (&st_globals.fence, 0);
}

void
st_acquire_fence (void)
{
  g_atomic_int_add (&st_globals.fence, 0);
}
#else
/* x86_64 keeps stores in order and loads in order; TinyCC does not reorder across a call. */
void
st_release_fence (void)
{
}

void
st_acquire_fence (void)
{
}
#endif

void
st_futex_wait (volatile uint32_t * word, uint32_t expected, uint32_t timeout_ms)
{
  long timeout[2];
  timeout[0] = timeout_ms / 1000;
  timeout[1] = (long) (timeout_ms % 1000) * 1000000;
  syscall (ST_SYS_FUTEX, word, ST_FUTEX_WAIT_PRIVATE, expected, timeout, NULL, 0);
}

void
st_futex_wake (volatile uint32_t * word)
{
  syscall (ST_SYS_FUTEX, word, ST_FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

uint64_t
st_now_ns (void)
{
  return (uint64_t) g_get_monotonic_time () * 1000;
}

uint64_t
st_thread_cpu_ns (void)
{
  /* struct timespec, and CLOCK_THREAD_CPUTIME_ID: the CModule runtime declares neither. */
  int64_t ts[2] = { 0, 0 };
  syscall (ST_SYS_CLOCK_GETTIME, 3, ts);
  return (uint64_t) ts[0] * 1000000000u + (uint64_t) ts[1];
}

typedef struct _StIoVec StIoVec;
struct _StIoVec
{
  const void * base;
  gsize length;
};

/*
 * The kernel copies and stops at the first fault (process_vm_readv on this process), straight
 * into the record: no allocation. Where that syscall is missing (before Linux 3.2), Gum's own
 * reader checks the mapping instead.
 */
uint32_t
st_read_memory (uint64_t address, void * into, uint32_t size)
{
  StIoVec local, remote;
  long n;
  gsize read = 0;
  guint8 * bytes;

  if (st_globals.pid == 0)
    st_globals.pid = (guint32) syscall (ST_SYS_GETPID);
  local.base = into;
  local.length = size;
  remote.base = GSIZE_TO_POINTER (address);
  remote.length = size;
  n = syscall (ST_SYS_PROCESS_VM_READV, st_globals.pid, &local, 1, &remote, 1, 0);
  if (n >= 0)
    return (uint32_t) n;
  bytes = gum_memory_read (GSIZE_TO_POINTER (address), size, &read);
  if (bytes == NULL)
    return 0;
  memcpy (into, bytes, read);
  g_free (bytes);
  return (uint32_t) read;
}

void *
st_alloc (uint64_t size)
{
  return g_malloc0 (size);
}

void *
st_map_pages (uint64_t size, int prot)
{
  /* MAP_PRIVATE | MAP_ANONYMOUS; the kernel returns -4095..-1 for an error. */
  long p = syscall (ST_SYS_MMAP, NULL, (gsize) size, prot, 0x22, -1, 0L);
  return (p < 0 && p > -4096) ? NULL : GSIZE_TO_POINTER (p);
}

void
st_unmap_pages (void * p, uint64_t size)
{
  syscall (ST_SYS_MUNMAP, p, (gsize) size);
}

void
st_free (void * p)
{
  g_free (p);
}

uint32_t
st_gettid (void)
{
  return (uint32_t) syscall (ST_SYS_GETTID);
}

int
st_thread_alive (uint32_t tid)
{
  /* Signal 0 only checks: -1 with ESRCH once the thread is gone. */
  return syscall (ST_SYS_TGKILL, syscall (ST_SYS_GETPID), (long) tid, 0L) == 0;
}

/* The same on every Linux architecture recorded (x86_64, arm64). */
#define ST_AT_FDCWD (-100)
#define ST_O_WRONLY 01
#define ST_O_APPEND 02000
#define ST_O_CLOEXEC 02000000
#define ST_EINTR 4
#define ST_POLLOUT 4
#define ST_POLLERR 8

typedef struct _StPollFd StPollFd;
struct _StPollFd
{
  int fd;
  short events;
  short revents;
};

/* What a failed syscall() left in errno (0 when it succeeded). */
static long
st_errno_of (long result)
{
  return result < 0 ? (long) *(volatile int *) st_errno_location () : 0;
}

int
st_pipe_open (int fds[2])
{
  return syscall (ST_SYS_PIPE2, fds, ST_O_CLOEXEC) == 0 ? 0 : -1;
}

int
st_pipe_reader_gone (int fd)
{
  StPollFd pending = { fd, ST_POLLOUT, 0 };
  long no_wait[2] = { 0, 0 };
  return syscall (ST_SYS_PPOLL, &pending, 1L, no_wait, NULL, 0L) == 1 && (pending.revents & ST_POLLERR) != 0;
}

int
st_file_open_append (const char * path)
{
  long fd = syscall (ST_SYS_OPENAT, (long) ST_AT_FDCWD, path, (long) (ST_O_WRONLY | ST_O_APPEND | ST_O_CLOEXEC), 0L);
  return fd >= 0 ? (int) fd : (int) -st_errno_of (fd);
}

int
st_file_append (int fd, const StPiece * pieces, guint32 count)
{
  StIoVec vectors[ST_MAX_PIECES];
  guint64 total = 0;
  guint32 i;
  long n;
  for (i = 0; i != count; i++)
  {
    vectors[i].base = pieces[i].data;
    vectors[i].length = (gsize) pieces[i].size;
    total += pieces[i].size;
  }
  do
    n = syscall (ST_SYS_WRITEV, (long) fd, vectors, (long) count);
  while (n < 0 && st_errno_of (n) == ST_EINTR);
  if (n < 0)
    return (int) st_errno_of (n);
  /* Never finished by a second write: another process's append may already follow the part written. */
  return (guint64) n == total ? 0 : ST_WRITE_CUT_SHORT;
}

void
st_fd_close (int fd)
{
  syscall (ST_SYS_CLOSE, (long) fd);
}

struct _StThread
{
  GThread * thread;
  void (* func) (void * data);
  void * data;
};

static gpointer
st_thread_main (gpointer data)
{
  StThread * t = data;
  t->func (t->data);
  return NULL;
}

StThread *
st_thread_start (const char * name, void (* func) (void * data), void * data)
{
  StThread * t = g_malloc0 (sizeof (StThread));
  t->func = func;
  t->data = data;
  t->thread = g_thread_new (name, st_thread_main, t);
  return t;
}

void
st_thread_join (StThread * t)
{
  g_thread_join (t->thread);
  g_free (t);
}

struct _StLock
{
  GMutex mutex;
};

StLock *
st_lock_new (void)
{
  StLock * lock = g_malloc0 (sizeof (StLock));
  g_mutex_init (&lock->mutex);
  return lock;
}

void
st_lock_free (StLock * lock)
{
  g_mutex_clear (&lock->mutex);
  g_free (lock);
}

void
st_lock (StLock * lock)
{
  g_mutex_lock (&lock->mutex);
}

void
st_unlock (StLock * lock)
{
  g_mutex_unlock (&lock->mutex);
}
