/*
 * What the ring needs from its surroundings. Inside the target it is provided by
 * platform-frida.c (GLib from Frida's CModule runtime, libc's syscall()); the native tests
 * provide it themselves. TinyCC has no __atomic builtins, so ordering is spelled out here.
 */
#ifndef STALK_TRACE_PLATFORM_H
#define STALK_TRACE_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* Orders the stores before it ahead of those after it (publishing a write position). */
void st_release_fence (void);
/* Orders the loads after it behind those before it (reading a published position). */
void st_acquire_fence (void);

/* Waits while *word == expected, at most timeout_ms; returns early when woken. */
void st_futex_wait (volatile uint32_t * word, uint32_t expected, uint32_t timeout_ms);
void st_futex_wake (volatile uint32_t * word);

uint64_t st_now_ns (void);
/* CPU time the calling thread has run for: what its work cost, not counting time it waited for a core. */
uint64_t st_thread_cpu_ns (void);

/* libc's, which Frida's CModule headers do not declare (inside the target the agent passes it in). */
int memcmp (const void * a, const void * b, size_t n);

/*
 * Copies up to `size` bytes at `address` into `into` without faulting; returns how many were
 * readable from its start (0: not even the first).
 */
uint32_t st_read_memory (uint64_t address, void * into, uint32_t size);

void * st_alloc (uint64_t size);
/*
 * Fresh zeroed pages with these PROT_* bits, from the kernel rather than a heap: memory that code
 * Stalker made writes to or calls must outlive the agent and its allocator (0: refused).
 */
void * st_map_pages (uint64_t size, int prot);
void st_unmap_pages (void * p, uint64_t size);
void st_free (void * p);

uint32_t st_gettid (void);
/* Whether thread `tid` of this process still exists (it may have said it is exiting and run on). */
int st_thread_alive (uint32_t tid);

typedef struct _StThread StThread;
StThread * st_thread_start (const char * name, void (* func) (void * data), void * data);
void st_thread_join (StThread * thread);

/*
 * The local device's transport (ring.h). A pipe, close on exec, whose reading end the host holds
 * while it lives; 0 on success.
 */
int st_pipe_open (int fds[2]);
/* Whether nothing holds the reading end of the pipe whose writing end is `fd` any more. */
int st_pipe_reader_gone (int fd);
/* Opens an existing file for appending, close on exec: its descriptor, or -errno. */
int st_file_open_append (const char * path);
/* Bytes to append, one of the pieces of a write. */
typedef struct _StPiece StPiece;
struct _StPiece
{
  const void * data;
  uint64_t size;
};
#define ST_MAX_PIECES 64
/*
 * Appends `count` pieces (at most ST_MAX_PIECES) in one write, which no other process's append
 * can split: 0, an errno, or ST_WRITE_CUT_SHORT when the file took only part of them.
 */
int st_file_append (int fd, const StPiece * pieces, uint32_t count);
void st_fd_close (int fd);

typedef struct _StLock StLock;
StLock * st_lock_new (void);
void st_lock_free (StLock * lock);
void st_lock (StLock * lock);
void st_unlock (StLock * lock);

#endif
