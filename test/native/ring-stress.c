/*
 * Producers write numbered records into their rings while the drain thread empties them into
 * the outbox and this program takes the outbox, as the agent does, and checks what arrives.
 *
 * ring-stress THREADS RECORDS LOSSY TAKE_EVERY_US OUTBOX_BYTES [HOLD [TRANSPORT CAPTURE [REPEAT [PLAIN]]]]
 * HOLD 1: the first take waits until no producer can go on without one (lossless: every ring
 * is full; lossy: every producer has finished), so stalls or drops are certain, not a matter
 * of how the threads were scheduled.
 * TRANSPORT 0: the outbox is taken, as the agent takes it to send messages; 1: the writer thread
 * appends it to the file CAPTURE as frames after what it holds, while this program holds the link, as the host does;
 * 2: the link is let go of before the producers start, as by a host that died (nothing may hang
 * or die then, and nothing more is written). CAPTURE may be a file that refuses writes.
 * Every 97th record is a syscall record with a six-argument payload and every 7th a call with its
 * stack-pointer payload (written by st_ring_write); the others are one-slot return records
 * (st_ring_write_slot, as the inline writer writes them). Every record's target is its number,
 * and its kind and payload follow from that number. REPEAT N (lossless only): records come in
 * runs of N, each a group of 1 to 5 numbers written over and over (a loop's records; the group's
 * size changes from run to run, and a run may end inside a group), which the drain writes as
 * repeat records; this program expands them itself. PLAIN 1: no record is of a kind a repeat
 * may start with (calls and returns become one-slot sysret records), as instruction records are
 * not, so the drain leaves chunks in the ring for the writer to append (by reference).
 * Prints one JSON line.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ring.h"

#define MAX_THREADS 64

typedef struct
{
  StRing * ring;
  uint64_t records;
} Producer;

typedef struct
{
  uint64_t next_seq;
  uint64_t next_number;
  uint64_t received;
  uint64_t lost;
  uint64_t stalls;
  uint64_t stall_ns;
  uint64_t repeated_chunks;
  int exited;
} Seen;

static Seen seen[MAX_THREADS];
static int errors;
static uint64_t repeat_run;
static int plain;
/* The kind of one-slot records. */
static unsigned one_slot_kind;

/* The number the i-th record of a thread carries: under REPEAT, run r repeats a group of 1 + (7r + 3) % 5 numbers from 8r. */
static uint64_t
number_of (uint64_t i)
{
  uint64_t run = repeat_run == 0 ? 0 : i / repeat_run;
  return repeat_run == 0 ? i : run * 8 + i % repeat_run % (1 + (7 * run + 3) % 5);
}
/* A mutex, not an atomic builtin: tcc has none. */
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t producers_done;

static void
fail (const char * what, uint32_t thread)
{
  if (errors++ < 5)
    fprintf (stderr, "thread %u: %s\n", thread, what);
}

static void *
produce (void * data)
{
  Producer * p = data;
  StRing * ring = p->ring;
  uint64_t i;

  for (i = 0; i != p->records; i++)
  {
    uint64_t n = number_of (i);
    if (n % 97 == 0)
    {
      uint64_t args[6] = { n, n + 1, n + 2, n + 3, n + 4, n + 5 };
      st_ring_write (ring, ST_KIND_SYSCALL, 0x401000, n, args, sizeof (args));
    }
    else if (n % 7 == 0 && !plain)
    {
      uint64_t payload[2] = { 0x7ffff000 - n, 5 };
      st_ring_write (ring, ST_KIND_CALL, 0x401000, n, payload, sizeof (payload));
    }
    else
    {
      StRecord r;
      st_record_set (&r, 0x401000 + (n & 0xff), one_slot_kind, 0, n);
      st_ring_write_slot (ring, r.word[0], r.word[1]);
    }
  }
  st_ring_end (ring, 1);
  pthread_mutex_lock (&done_lock);
  producers_done++;
  pthread_mutex_unlock (&done_lock);
  return NULL;
}

static uint64_t
u64_at (const uint8_t * p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return v;
}

/*
 * The records a chunk stands for, into `out` (grown as needed): each repeat record becomes the
 * bytes of the slots before it, as many times as it says. Returns the size, or 0 where a repeat
 * reaches back past the chunk's start.
 */
static uint64_t
expand (const uint8_t * slot, const uint8_t * end, uint8_t ** out, uint64_t * capacity)
{
  uint64_t size = 0;
  while (slot < end)
  {
    uint64_t word0 = u64_at (slot);
    uint64_t span = ST_SLOT_SIZE * (word0 & ST_ADDRESS_MASK);
    uint64_t times = slot[6] == ST_KIND_REPEAT ? u64_at (slot + 8) & ST_ADDRESS_MASK : 1;
    uint64_t bytes = slot[6] == ST_KIND_REPEAT ? span * times : ST_SLOT_SIZE * (1 + (uint64_t) slot[7]);
    if (slot[6] == ST_KIND_REPEAT && (span == 0 || span > size))
      return 0;
    while (size + bytes > *capacity)
      *out = realloc (*out, *capacity *= 2);
    if (slot[6] == ST_KIND_REPEAT)
    {
      uint64_t k;
      for (k = 0; k != times; k++)
        memcpy (*out + size + k * span, *out + size - span, span);
      slot += ST_SLOT_SIZE;
    }
    else
    {
      memcpy (*out + size, slot, bytes);
      slot += bytes;
    }
    size += bytes;
  }
  return size;
}

static void
check_chunks (const uint8_t * data, uint64_t size, int lossy)
{
  static uint8_t * expanded;
  static uint64_t capacity;
  uint64_t at = 0;
  while (at < size)
  {
    StChunkHeader h;
    const uint8_t * slot;
    const uint8_t * end;
    Seen * s;
    uint32_t records = 0;

    memcpy (&h, data + at, sizeof (h));
    if (h.magic != ST_CHUNK_MAGIC || h.thread_id >= MAX_THREADS)
    {
      fail ("bad chunk header", h.thread_id);
      return;
    }
    s = &seen[h.thread_id];
    if (h.first_seq != s->next_seq)
      fail ("chunk does not follow the previous one", h.thread_id);
    s->lost = h.lost;
    s->exited |= h.flags & 1;
    slot = data + at + ST_CHUNK_HEADER_SIZE;
    end = slot + (uint64_t) h.slot_count * ST_SLOT_SIZE;
    if ((h.flags & ST_CHUNK_REPEATS) != 0)
    {
      uint64_t bytes;
      if (expanded == NULL)
        expanded = malloc (capacity = 1 << 16);
      bytes = expand (slot, end, &expanded, &capacity);
      if (bytes == 0)
        fail ("a repeat record reaches back past its chunk", h.thread_id);
      slot = expanded;
      end = expanded + bytes;
      s->repeated_chunks++;
    }
    while (slot < end)
    {
      unsigned kind = slot[6];
      uint64_t target = u64_at (slot + 8) & ST_ADDRESS_MASK;
      records++;
      if (kind == ST_KIND_STALL)
      {
        s->stalls++;
        s->stall_ns += target;
        slot += ST_SLOT_SIZE;
        continue;
      }
      if (lossy ? target < s->next_number : target != number_of (s->received))
        fail ("record out of order or missing", h.thread_id);
      if (kind == ST_KIND_SYSCALL)
      {
        /* Six u64 arguments: three payload slots. */
        if (slot[7] != 3 || u64_at (slot + 16 + 40) != target + 5)
          fail ("syscall payload damaged", h.thread_id);
        slot += ST_SLOT_SIZE * (1 + 3);
      }
      else if (kind == ST_KIND_CALL && !plain)
      {
        /* The stack pointer and the call's length: one payload slot. */
        if (slot[7] != 1 || u64_at (slot + 16 + ST_PAYLOAD_CALL_SP) != 0x7ffff000 - target || slot[16 + ST_PAYLOAD_CALL_LENGTH] != 5)
          fail ("call payload damaged", h.thread_id);
        slot += ST_SLOT_SIZE * 2;
      }
      else
      {
        if (kind != one_slot_kind || slot[7] != 0)
          fail ("one-slot record damaged", h.thread_id);
        slot += ST_SLOT_SIZE;
      }
      s->next_number = target + 1;
      s->received++;
    }
    if (records != h.record_count)
      fail ("record count does not match the header", h.thread_id);
    s->next_seq += h.record_count;
    at += ST_CHUNK_HEADER_SIZE + (uint64_t) h.slot_count * ST_SLOT_SIZE;
  }
}

/* Polls until a lossless producer's ring is full (it must wait for a take) or lossy ones are done. */
static void
wait_until_blocked (Producer * producers, uint32_t threads, int lossy)
{
  for (;;)
  {
    uint32_t i, blocked = 0, done;
    pthread_mutex_lock (&done_lock);
    done = producers_done;
    pthread_mutex_unlock (&done_lock);
    for (i = 0; i != threads; i++)
    {
      StRing * r = producers[i].ring;
      if (!lossy && r->produced_blocks - r->consumed_blocks >= ST_RING_BLOCKS)
        blocked++;
    }
    if (lossy ? done == threads : blocked == threads)
      return;
    usleep (100);
  }
}

/* The test's own CRC-32 (zlib's polynomial), table-driven, to check the writer's bit-by-bit one. */
static uint32_t
crc32_of (const uint8_t * p, uint32_t n)
{
  static uint32_t table[256];
  uint32_t crc = 0xffffffffu, i;
  if (table[1] == 0)
  {
    for (i = 0; i != 256; i++)
    {
      uint32_t c = i, k;
      for (k = 0; k != 8; k++)
        c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  }
  for (i = 0; i != n; i++)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* Reads back what the writer appended: whole frames, each a run of whole chunks. Returns its size. */
static uint64_t
check_capture (const char * path, long from, int lossy)
{
  FILE * f = fopen (path, "rb");
  uint8_t header[ST_FRAME_HEADER_SIZE];
  uint64_t size = 0;

  fseek (f, from, SEEK_SET);
  while (fread (header, 1, sizeof (header), f) == sizeof (header))
  {
    uint32_t length, check;
    uint16_t stored;
    uint8_t * payload;
    memcpy (&length, header + ST_FRAME_LENGTH_OFFSET, 4);
    memcpy (&stored, header + ST_FRAME_HEADER_CHECK_OFFSET, 2);
    check = crc32_of (header, ST_FRAME_HEADER_CHECK_OFFSET) & 0xffff;
    if (header[ST_FRAME_TYPE_OFFSET] != ST_FRAME_TYPE_EVENTS || header[ST_FRAME_FLAGS_OFFSET] != ST_FRAME_UNCHECKED || stored != check)
      fail ("bad frame header", 0);
    payload = malloc (length);
    if (fread (payload, 1, length, f) != length)
      fail ("the file ends inside a frame", 0);
    else
      check_chunks (payload, length, lossy);
    free (payload);
    size += sizeof (header) + length;
  }
  fclose (f);
  return size;
}

static int
rings_left (StTracer * tracer)
{
  int left;
  st_lock (tracer->lock);
  left = tracer->ring_count;
  st_unlock (tracer->lock);
  return left;
}

int
main (int argc, char ** argv)
{
  uint32_t threads = atoi (argv[1]);
  uint64_t records = strtoull (argv[2], NULL, 10);
  int lossy = atoi (argv[3]);
  int take_every_us = atoi (argv[4]);
  int hold = argc > 6 && atoi (argv[6]) != 0;
  int transport = argc > 7 ? atoi (argv[7]) : 0;
  const char * capture = argc > 8 ? argv[8] : NULL;
  uint64_t repeated_chunks = 0;
  int link = -1;
  struct stat file;
  long before = 0;
  StTracer * tracer = st_tracer_new (strtoull (argv[5], NULL, 10));
  pthread_t tids[MAX_THREADS];
  Producer producers[MAX_THREADS];
  uint64_t received = 0, lost = 0, stalls = 0, stall_ns = 0;
  uint32_t i, exited = 0;

  repeat_run = argc > 9 ? strtoull (argv[9], NULL, 10) : 0;
  plain = argc > 10 && atoi (argv[10]) != 0;
  one_slot_kind = plain ? ST_KIND_SYSRET : ST_KIND_RET;
  st_tracer_start (tracer);
  if (transport != 0)
  {
    /* What the file held before (a capture's header and first frames) is not the writer's. */
    if (stat (capture, &file) == 0)
      before = file.st_size;
    if (st_tracer_capture_open (tracer, capture) != 0)
      fail ("the capture could not be opened", 0);
    /* The host opens the reading end through /proc; a duplicate stands for that here. */
    link = dup (st_tracer_link_open (tracer));
    st_tracer_direct (tracer, 1);
    if (transport == 2)
      close (link);
  }
  /* Registered before any producer runs, so an empty registry means every ring is done. */
  for (i = 0; i != threads; i++)
    producers[i] = (Producer) { st_ring_new (tracer, i, lossy, 1), records };
  for (i = 0; i != threads; i++)
    pthread_create (&tids[i], NULL, produce, &producers[i]);
  if (hold)
    wait_until_blocked (producers, threads, lossy);
  if (transport != 0)
  {
    for (i = 0; i != threads; i++)
      pthread_join (tids[i], NULL);
    while (rings_left (tracer) != 0)
      usleep (take_every_us);
    /* The writer's last pass, after which it closes the file. */
    st_tracer_stop (tracer);
    if (transport == 1)
      close (link);
    /* A device that refuses writes reads back as something else. */
    if (stat (capture, &file) == 0 && S_ISREG (file.st_mode) && check_capture (capture, before, lossy) != st_tracer_written (tracer))
      fail ("the bytes in the file are not the bytes written", 0);
  }
  while (transport == 0)
  {
    uint8_t * data;
    uint64_t n = st_outbox_take (tracer, &data);
    int done;
    check_chunks (data, n, lossy);
    st_lock (tracer->lock);
    done = tracer->ring_count == 0;
    st_unlock (tracer->lock);
    if (done && n == 0)
      break;
    usleep (take_every_us);
  }
  if (transport == 0)
  {
    for (i = 0; i != threads; i++)
      pthread_join (tids[i], NULL);
    st_tracer_stop (tracer);
  }
  for (i = 0; i != threads; i++)
  {
    received += seen[i].received;
    lost += seen[i].lost;
    stalls += seen[i].stalls;
    stall_ns += seen[i].stall_ns;
    exited += seen[i].exited;
    repeated_chunks += seen[i].repeated_chunks;
  }
  printf ("{\"written\": %llu, \"received\": %llu, \"lost\": %llu, \"stalls\": %llu, \"stallNs\": %llu, "
      "\"exited\": %u, \"errors\": %d, \"writeError\": %d, \"repeatedChunks\": %llu, \"byReference\": %llu}\n",
      (unsigned long long) (threads * records), (unsigned long long) received, (unsigned long long) lost, (unsigned long long) stalls,
      (unsigned long long) stall_ns, exited, errors, st_tracer_write_error (tracer), (unsigned long long) repeated_chunks,
      (unsigned long long) tracer->chunks_by_reference);
  st_tracer_free (tracer);
  return 0;
}
