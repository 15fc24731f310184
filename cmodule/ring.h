/*
 * Per-thread event rings and the outbox they drain into.
 *
 * A followed thread writes records (layout.generated.h) into its own ring: one producer, the
 * thread, and one consumer, the drain thread. The ring is ST_RING_BLOCKS blocks; the thread
 * writes into a window that is the rest of its current block. The inline writers emitted into
 * the thread's code (emit-*.c) write a record at `cur` (one slot, two for a call), advance
 * `cur` and take as much from `remaining`, and call st_ring_refill when `remaining` reaches 0,
 * so a one-slot record always fits; a call that finds one slot left calls it first. Records
 * never straddle blocks.
 *
 * Full ring: lossless, the thread waits for the drain and then writes a stall record saying
 * how long; lossy, it writes into a scratch block whose records are counted as lost.
 *
 * The drain copies records into the outbox, but for the capture's writer it may leave them in the
 * ring (refs_made): a copy was the drain's whole cost for instruction records, which it cannot
 * make smaller. Their block is then the thread's again once the writer has appended them.
 */
#ifndef STALK_TRACE_RING_H
#define STALK_TRACE_RING_H

#include <stddef.h>
#include "api-stack.h"
#include "layout.generated.h"
#include "platform.h"

#define ST_BLOCK_SIZE (64 * 1024)
#define ST_RING_BLOCKS 16
#define ST_MAX_RINGS 4096
/* Chunks of one ring the writer may have yet to append from it (see refs_made). */
#define ST_RING_REFS 64

typedef struct _StRing StRing;
typedef struct _StInsnFrame StInsnFrame;

/*
 * The register values runs under way saved (more than one only when a followed signal handler
 * interrupted a run). The stack's index is one byte that wraps, so a run a handler left by
 * longjmp, which never pops, costs nothing but its slot.
 */
#define ST_INSN_FRAMES 256

struct _StInsnFrame
{
  uint64_t base;
  uint64_t temp;
};
typedef struct _StOutbox StOutbox;
typedef struct _StTracer StTracer;

/*
 * When the drain packs insn records: always, or when the outbox holds this much not yet taken
 * and the capture is a slow sink: its writes cost more than a CPU nanosecond a byte, where
 * packing (about 1.3 bytes a nanosecond, compiled by tcc) and writing a third of the bytes
 * costs less than writing them all.
 */
#define ST_PACK_ALWAYS 1
#define ST_PACK_WHEN_BEHIND 2
#define ST_PACK_BEHIND_BYTES (4 * 1024 * 1024)

struct _StRing
{
  /* The inline writers' window; emitted code addresses it, as the fields checked below, by offset. */
  uint8_t * cur;
  uint64_t remaining;

  /* The producer's side. */
  uint8_t * blocks;
  volatile uint64_t produced_blocks;
  uint32_t block_fill[ST_RING_BLOCKS];
  uint8_t * scratch;
  int dropping;
  /* Odd while st_ring_refill changes lost and the scratch position: the drain side reads them between. */
  volatile uint32_t refill_generation;
  volatile uint64_t lost;
  volatile uint32_t space_signal;
  uint32_t thread_id;
  int lossy;
  /* The syscall under way, from its entry to its return. */
  uint64_t pending_syscall;
  /* Its result buffer, read at its return: argument index (ST_SYSCALL_READ_NONE: none) and address. */
  uint32_t pending_obuf_arg;
  uint64_t pending_obuf;
  StTracer * tracer;

  /* --apis: the library calls that have not returned yet. */
  StApiStack api;

  /*
   * Records are written only while this is not 0. --func closes it until the function is
   * entered, and again when its outermost activation returns: func_sp_not is the complement of
   * the stack pointer at that entry, so the inline check needs no flag-setting subtraction.
   * st_ring_end and st_tracer_silence close it for good.
   */
  volatile uint64_t recording;
  uint64_t func_sp_not;

  /*
   * --events insn (insn-runs.h, emit-*.c): a word the space check tests the sign byte of,
   * as emitted code sets no flags; the record of the run under way, which the drain stops short
   * of (NULL: none); and the saves of the runs under way, innermost at insn_depth - 1.
   */
  uint64_t insn_probe;
  uint8_t * volatile insn_open_at;
  uint64_t insn_depth;
  StInsnFrame insn_frames[ST_INSN_FRAMES];
  /* Whether the thread's registers were written out in full once (an insnsync record), and whether the code that does it was placed. */
  uint32_t insn_synced;
  uint32_t insn_sync_placed;

  /* The consumer's side, kept apart from the producer's fields. */
  uint8_t consumer_pad[64];
  volatile uint64_t consumed_blocks;
  uint64_t consumed_offset;
  uint64_t records_drained;
  uint64_t lost_reported;
  volatile uint32_t ended;
  int exited;
  StRing * next_retired;
  /*
   * Chunks sent by reference: the writer appends their records from the ring itself, so nothing
   * copies them. The drain makes them, noting the block each lies in; until the writer has
   * appended one, its block is not the thread's to write again.
   */
  volatile uint64_t refs_made;
  uint64_t ref_blocks[ST_RING_REFS];

  /* The writer's side. */
  uint8_t writer_pad[64];
  volatile uint64_t refs_written;
};

/*
 * The fields the code emit-*.c writes (inline writers, the refill stub's sink, the --func and
 * --apis checks) reads and writes by offset from the ring. arm64 carries each offset in the
 * scaled 12-bit immediate of an ldr or str, which Gum's writer does not check: a multiple of 8
 * below 32768. It publishes cur with stlr, which takes no offset: cur comes first.
 */
#define ST_RING_IN_REACH(field) (offsetof (StRing, field) % 8 == 0 && offsetof (StRing, field) < 8 * 4096)
_Static_assert (offsetof (StRing, cur) == 0, "StRing: cur must be the first field (emitted code stores it with stlr)");
_Static_assert (ST_RING_IN_REACH (remaining), "StRing: remaining is out of reach of emitted code");
_Static_assert (ST_RING_IN_REACH (scratch), "StRing: scratch is out of reach of emitted code");
_Static_assert (ST_RING_IN_REACH (recording), "StRing: recording is out of reach of emitted code");
_Static_assert (ST_RING_IN_REACH (func_sp_not), "StRing: func_sp_not is out of reach of emitted code");
_Static_assert (ST_RING_IN_REACH (insn_open_at), "StRing: insn_open_at is out of reach of emitted code");
_Static_assert (ST_RING_IN_REACH (insn_depth), "StRing: insn_depth is out of reach of emitted code");
_Static_assert (ST_RING_IN_REACH (insn_frames), "StRing: insn_frames is out of reach of emitted code");
_Static_assert (ST_RING_IN_REACH (insn_probe), "StRing: insn_probe is out of reach of emitted code");
_Static_assert (ST_RING_IN_REACH (api.return_not), "StRing: api.return_not is out of reach of emitted code");

/*
 * A chunk of the outbox whose records the writer appends from their ring: the buffer holds its
 * header, and `at` is where its records would follow it.
 */
typedef struct _StOutboxRef StOutboxRef;
struct _StOutboxRef
{
  uint64_t at;
  const uint8_t * data;
  uint64_t size;
  StRing * ring;
};
#define ST_OUTBOX_REFS 1024

/*
 * Double-buffered: the drain thread fills one while the agent sends the other, or the writer
 * appends it. Only the writer takes chunks by reference.
 */
struct _StOutbox
{
  StLock * lock;
  uint8_t * buffers[2];
  uint64_t capacity;
  uint64_t used[2];
  StOutboxRef * refs[2];
  uint32_t ref_count[2];
  /* The bytes of records the refs stand for. */
  uint64_t ref_bytes[2];
  int active;
};

struct _StTracer
{
  StLock * lock;
  StRing * rings[ST_MAX_RINGS];
  uint32_t ring_count;
  /* Ended rings whose thread lives on: its code may still be leaving Stalker's, so they stay allocated. */
  StRing * retired;
  StOutbox outbox;
  uint64_t started_ns;
  /* Bumped by producers that filled a block, so the drain thread wakes at once. */
  volatile uint32_t drain_signal;
  volatile uint32_t stopping;
  /* A forked child's copy: its drain thread did not survive the fork, so nothing records. */
  volatile uint32_t orphaned;
  StThread * drain_thread;
  volatile uint32_t drain_thread_id;
  /*
   * The local device's transport: a writer thread takes the outbox, as the agent does to send
   * messages, and appends it to the capture file as one events frame (capture.json) through
   * capture_fd (-1: none), counting what went in. The host holds the reading end of the link
   * pipe for as long as it lives: once nothing does, nothing more is written. Other threads wait
   * for the writer's passes through sync_request and sync_done.
   */
  int link_fds[2];
  int capture_fd;
  /* 0, or why nothing more is written: an errno, ST_WRITE_CUT_SHORT, or ST_HOST_GONE. */
  volatile int write_error;
  volatile uint64_t written;
  StThread * writer_thread;
  volatile uint32_t writer_thread_id;
  volatile uint32_t writer_signal;
  volatile uint32_t writer_stopping;
  volatile uint32_t writer_stopped;
  uint32_t sync_request;
  volatile uint32_t sync_done;
  /* When insn records are packed (insn-pack.h): one of ST_PACK_*; always once messages carry the chunks. */
  int packing;
  /* Whether the writer's last pass of a frame's size or more cost more CPU nanoseconds than it wrote bytes. */
  volatile uint32_t sink_slow;
  /* Chunks the writer appended from their rings: what the drain did not copy. */
  uint64_t chunks_by_reference;
};

StTracer * st_tracer_new (uint64_t outbox_capacity);
void st_tracer_free (StTracer * tracer);

/* Starts the drain thread; its id is in drain_thread_id once this returns. */
void st_tracer_start (StTracer * tracer);
uint32_t st_tracer_drain_thread_id (StTracer * tracer);
/* Stops the drain thread after a last drain of every ring, and the capture's writer after it has written that. */
void st_tracer_stop (StTracer * tracer);
/* No ring records any more: the inline writers skip, whoever still runs them. No lock is taken. */
void st_tracer_silence (StTracer * tracer);
/*
 * In a forked child: every ring stops recording, so no thread waits for a drain that will
 * never come. Takes no lock: one may have been held by a thread the fork left behind.
 */
void st_tracer_orphan (StTracer * tracer);
int st_tracer_is_orphaned (StTracer * tracer);

/* `recording`: whether records are written from the start (not under --func). */
StRing * st_ring_new (StTracer * tracer, uint32_t thread_id, int lossy, int recording);
/*
 * The end of a ring. `exited`: the thread is exiting; it may still run (exit handlers), so the
 * drain thread goes on draining it until the thread is gone, then sends its last chunk (which
 * says so) and frees it. Otherwise it is no longer followed: what it has written is sent, and
 * the ring is kept (never freed while the process lives), since code Stalker made for the thread
 * may still write into it; from then on it writes into its scratch block and never waits.
 */
void st_ring_end (StRing * ring, int exited);

/*
 * Producer side: ends the thread's block and opens the next (waiting, or dropping, when the ring
 * is full). Called by the inline writers when `remaining` reached 0 or a two-slot record found
 * one slot left, and by st_ring_write when a record does not fit.
 */
void st_ring_refill (StRing * ring);
/* Producer side: one record with an optional payload of payload_size bytes (padded to slots). */
void st_ring_write (StRing * ring, unsigned kind, uint64_t location, uint64_t target,
    const void * payload, uint32_t payload_size);
/* Producer side: a one-slot record written as the inline writers write it, for the native tests. */
void st_ring_write_slot (StRing * ring, uint64_t word0, uint64_t word1);

/*
 * The local device's transport. Opens the capture file the host created, for appending: 0, or
 * the errno that refused it (another user's file, another mount namespace).
 */
int st_tracer_capture_open (StTracer * tracer, const char * path);
/* The link pipe; returns its reading end for the host to open (-1: none). */
int st_tracer_link_open (StTracer * tracer);
/*
 * `use`: the host holds the link, and a writer thread appends the outbox to the capture from
 * now on; otherwise the file and the link are closed, and messages carry the chunks, their insn
 * records always packed.
 */
void st_tracer_direct (StTracer * tracer, int use);
uint32_t st_tracer_writer_thread_id (StTracer * tracer);
/* Waits until every ring is drained and what it held is in the capture (or cannot be written). */
void st_tracer_sync (StTracer * tracer);
/* Bytes appended to the capture so far, and why writing stopped (0: it has not). */
uint64_t st_tracer_written (StTracer * tracer);
int st_tracer_write_error (StTracer * tracer);
/* Whether the host that holds the capture's link is gone (killed): nobody will say stop. */
int st_tracer_host_gone (StTracer * tracer);

/* Consumer side: drains every ring into the outbox; returns the bytes added. */
uint64_t st_tracer_drain (StTracer * tracer);
/* Consumer side, for the agent: the filled outbox buffer, swapped for the empty one. */
uint64_t st_outbox_take (StTracer * tracer, uint8_t ** data);

#endif
