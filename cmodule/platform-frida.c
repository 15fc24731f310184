/* platform.h inside the target: GLib from Frida's CModule runtime, and libc's syscall(). */
#include <glib.h>
#include <gum/gummemory.h>
#include "globals.h"
#include "platform.h"

extern long syscall (long number, ...);

#if defined (HAVE_ARM64)
# define ST_SYS_FUTEX 98
# define ST_SYS_GETTID 178
#elif defined (HAVE_I386) && GLIB_SIZEOF_VOID_P == 8
# define ST_SYS_FUTEX 202
# define ST_SYS_GETTID 186
#else
/* ia32 and arm share these numbers. */
# define ST_SYS_FUTEX 240
# define ST_SYS_GETTID 224
#endif

#define ST_FUTEX_WAIT_PRIVATE 128
#define ST_FUTEX_WAKE_PRIVATE 129

#if defined (HAVE_ARM64) || defined (HAVE_ARM)
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
/* x86 keeps stores in order and loads in order; TinyCC does not reorder across a call. */
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

uint8_t *
st_read_memory (uint64_t address, uint32_t size, uint32_t * n_read)
{
  gsize n = 0;
  guint8 * bytes = gum_memory_read (GSIZE_TO_POINTER (address), size, &n);
  *n_read = (uint32_t) n;
  return bytes;
}

void *
st_alloc (uint64_t size)
{
  return g_malloc0 (size);
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
