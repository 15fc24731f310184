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

typedef struct _StIoVec StIoVec;
struct _StIoVec
{
  gpointer base;
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
#define ST_O_CLOEXEC 02000000
#define ST_F_SETPIPE_SZ 1031
#define ST_POLLOUT 4
#define ST_POLLERR 8
#define ST_SIG_BLOCK 0
#define ST_SIGPIPE 13
/* Linux's default ceiling for an unprivileged pipe (fs.pipe-max-size): fewer, larger reads for the host. */
#define ST_PIPE_BYTES (1 << 20)

typedef struct _StPollFd StPollFd;
struct _StPollFd
{
  int fd;
  short events;
  short revents;
};

int
st_pipe_open (int fds[2])
{
  if (syscall (ST_SYS_PIPE2, fds, ST_O_CLOEXEC) != 0)
    return -1;
  /* Refused beyond the system's ceiling: the default size then serves. */
  syscall (ST_SYS_FCNTL, (long) fds[1], (long) ST_F_SETPIPE_SZ, (long) ST_PIPE_BYTES);
  return 0;
}

int
st_pipe_write (int fd, const void * data, uint64_t size)
{
  const guint8 * p = data;
  while (size != 0)
  {
    long n = syscall (ST_SYS_WRITE, (long) fd, p, (gsize) size);
    StPollFd pending = { fd, ST_POLLOUT, 0 };
    long no_wait[2] = { 0, 0 };
    if (n > 0)
    {
      p += n;
      size -= n;
      continue;
    }
    /* A signal interrupted it, or nothing reads any more: only then does poll report an error. */
    if (syscall (ST_SYS_PPOLL, &pending, 1L, no_wait, NULL, 0L) == 1 && (pending.revents & ST_POLLERR) != 0)
      return 0;
  }
  return 1;
}

void
st_fd_close (int fd)
{
  syscall (ST_SYS_CLOSE, (long) fd);
}

void
st_block_sigpipe (void)
{
  guint64 set = (guint64) 1 << (ST_SIGPIPE - 1);
  syscall (ST_SYS_RT_SIGPROCMASK, (long) ST_SIG_BLOCK, &set, NULL, (long) sizeof (set));
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
