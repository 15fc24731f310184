#include <string.h>
#include "insn-pack.h"
#include "ring.h"

static uint8_t *
block_start (StRing * r, uint64_t index)
{
  return r->blocks + (index % ST_RING_BLOCKS) * ST_BLOCK_SIZE;
}

/* Every kind counts its payload slots in aux (a u8). */
static uint32_t
record_slots (const uint8_t * record)
{
  return 1 + (uint8_t) (((const StRecord *) record)->word[ST_REC_AUX_WORD] >> ST_REC_AUX_SHIFT);
}

static uint32_t
count_records (const uint8_t * from, const uint8_t * to)
{
  uint32_t n = 0;
  while (from < to)
  {
    from += ST_SLOT_SIZE * record_slots (from);
    n++;
  }
  return n;
}

/* The records in the scratch block: each was dropped. */
static uint64_t
count_dropped (StRing * r)
{
  return count_records (r->scratch, r->cur);
}

/*
 * Faults in every page of a fresh allocation now: the drain would otherwise take each page's
 * fault, and the kernel's zeroing of it, while the target waits (a third of its time when it
 * wrote instructions).
 */
static void *
touched (void * memory, uint64_t size)
{
  uint64_t at;
  for (at = 0; at < size; at += 4096)
    ((volatile uint8_t *) memory)[at] = 0;
  return memory;
}

StTracer *
st_tracer_new (uint64_t outbox_capacity)
{
  StTracer * t = st_alloc (sizeof (StTracer));
  t->lock = st_lock_new ();
  t->outbox.lock = st_lock_new ();
  /* Packing may scribble past a chunk's end: room for that past the capacity. */
  t->outbox.buffers[0] = touched (st_alloc (outbox_capacity + ST_INSN_PACK_OVERRUN), outbox_capacity + ST_INSN_PACK_OVERRUN);
  t->outbox.buffers[1] = touched (st_alloc (outbox_capacity + ST_INSN_PACK_OVERRUN), outbox_capacity + ST_INSN_PACK_OVERRUN);
  t->outbox.capacity = outbox_capacity;
  t->outbox.refs[0] = st_alloc (ST_OUTBOX_REFS * sizeof (StOutboxRef));
  t->outbox.refs[1] = st_alloc (ST_OUTBOX_REFS * sizeof (StOutboxRef));
  t->link_fds[0] = -1;
  t->link_fds[1] = -1;
  t->capture_fd = -1;
  t->packing = ST_PACK_WHEN_BEHIND;
  t->started_ns = st_now_ns ();
  return t;
}

/* A ring, its blocks and its scratch block, in one mapping (see st_map_pages for why). */
#define ST_RING_HEADER_BYTES ((sizeof (StRing) + 4095) / 4096 * 4096)
#define ST_RING_MAPPING_BYTES (ST_RING_HEADER_BYTES + (uint64_t) ST_BLOCK_SIZE * (ST_RING_BLOCKS + 1))
/* PROT_READ | PROT_WRITE */
#define ST_PROT_RW 3

static void
ring_free (StRing * r)
{
  st_unmap_pages (r, ST_RING_MAPPING_BYTES);
}

void
st_tracer_free (StTracer * t)
{
  uint32_t i;
  for (i = 0; i != t->ring_count; i++)
    ring_free (t->rings[i]);
  while (t->retired != 0)
  {
    StRing * r = t->retired;
    t->retired = r->next_retired;
    ring_free (r);
  }
  st_free (t->outbox.buffers[0]);
  st_free (t->outbox.buffers[1]);
  st_free (t->outbox.refs[0]);
  st_free (t->outbox.refs[1]);
  st_lock_free (t->outbox.lock);
  st_lock_free (t->lock);
  st_free (t);
}

StRing *
st_ring_new (StTracer * t, uint32_t thread_id, int lossy, int recording)
{
  StRing * r;

  st_lock (t->lock);
  if (t->ring_count == ST_MAX_RINGS)
  {
    st_unlock (t->lock);
    return 0;
  }
  r = st_map_pages (ST_RING_MAPPING_BYTES, ST_PROT_RW);
  if (r == 0)
  {
    st_unlock (t->lock);
    return 0;
  }
  r->blocks = (uint8_t *) r + ST_RING_HEADER_BYTES;
  r->scratch = r->blocks + (uint64_t) ST_BLOCK_SIZE * ST_RING_BLOCKS;
  r->cur = r->blocks;
  r->remaining = ST_BLOCK_SIZE;
  r->thread_id = thread_id;
  r->lossy = lossy;
  r->recording = recording;
  r->tracer = t;
  t->rings[t->ring_count++] = r;
  st_unlock (t->lock);
  return r;
}

void
st_ring_end (StRing * r, int exited)
{
  /* No longer followed: the thread's inline writers skip from now on. An exiting thread records to the last. */
  if (!exited)
    r->recording = 0;
  r->exited = exited;
  st_release_fence ();
  r->ended = 1;
  r->tracer->drain_signal++;
  st_futex_wake (&r->tracer->drain_signal);
}

static void
write_stall (StRing * r, uint64_t waited_ns)
{
  st_record_set ((StRecord *) r->cur, 0, ST_KIND_STALL, 0, waited_ns);
  st_release_fence ();
  r->cur += ST_SLOT_SIZE;
  r->remaining -= ST_SLOT_SIZE;
}

/*
 * The blocks the thread has written that it may write again: drained, and the writer done with
 * every chunk of them it was to append from the ring. Read between two looks at refs_written: the
 * ref_blocks entry it names is rewritten only once the writer has gone past it.
 */
static uint64_t
released_blocks (StRing * r)
{
  for (;;)
  {
    uint64_t written = r->refs_written;
    uint64_t consumed;
    uint64_t held;
    st_acquire_fence ();
    consumed = r->consumed_blocks;
    st_acquire_fence ();
    held = r->refs_made != written ? r->ref_blocks[written % ST_RING_REFS] : consumed;
    st_acquire_fence ();
    if (r->refs_written == written)
      return held < consumed ? held : consumed;
  }
}

void
st_ring_refill (StRing * r)
{
  uint64_t produced;
  uint64_t waited_from = 0;

  if (r->tracer->stopping || (r->ended && !r->exited))
  {
    /*
     * Recording is over for this thread, but it may run Stalker's code for a while yet (a
     * thread blocked in a syscall wakes later): it writes on into its scratch block and never
     * waits for a drain that will not come. Nothing of this is recorded, or lost.
     */
    r->refill_generation++;
    st_release_fence ();
    r->dropping = 0;
    r->cur = r->scratch;
    r->remaining = ST_BLOCK_SIZE;
    st_release_fence ();
    r->refill_generation++;
    return;
  }

  r->refill_generation++;
  st_release_fence ();
  if (r->dropping)
  {
    r->lost += count_dropped (r);
  }
  else
  {
    /* What was written so far in this block is final: hand the block to the drain thread. */
    produced = r->produced_blocks;
    r->block_fill[produced % ST_RING_BLOCKS] = (uint32_t) (r->cur - block_start (r, produced));
    st_release_fence ();
    r->produced_blocks = produced + 1;
    r->tracer->drain_signal++;
    st_futex_wake (&r->tracer->drain_signal);
  }

  for (;;)
  {
    uint32_t signal = r->space_signal;
    st_acquire_fence ();
    if (r->produced_blocks - released_blocks (r) < ST_RING_BLOCKS)
      break;
    if (r->lossy)
    {
      r->dropping = 1;
      r->cur = r->scratch;
      r->remaining = ST_BLOCK_SIZE;
      st_release_fence ();
      r->refill_generation++;
      return;
    }
    if (waited_from == 0)
      waited_from = st_now_ns ();
    st_futex_wait (&r->space_signal, signal, 10);
  }

  r->dropping = 0;
  r->cur = block_start (r, r->produced_blocks);
  r->remaining = ST_BLOCK_SIZE;
  st_release_fence ();
  r->refill_generation++;
  if (waited_from != 0)
    write_stall (r, st_now_ns () - waited_from);
}

/*
 * What the thread has dropped, as the drain side can tell while it runs: the count kept at
 * refills plus the records in its scratch block now, read between two refills.
 */
static uint64_t
lost_so_far (StRing * r)
{
  for (;;)
  {
    uint32_t generation = r->refill_generation;
    uint64_t lost;
    uint64_t in_scratch = 0;
    uint8_t * cur;
    st_acquire_fence ();
    if ((generation & 1) != 0)
      continue;
    lost = r->lost;
    cur = r->cur;
    if (r->dropping && cur >= r->scratch && cur <= r->scratch + ST_BLOCK_SIZE)
      in_scratch = count_records (r->scratch, cur);
    st_acquire_fence ();
    if (r->refill_generation == generation)
      return lost + in_scratch;
  }
}

void
st_ring_write (StRing * r, unsigned kind, uint64_t location, uint64_t target, const void * payload,
    uint32_t payload_size)
{
  uint32_t extra = (payload_size + ST_SLOT_SIZE - 1) / ST_SLOT_SIZE;
  uint64_t need = (uint64_t) ST_SLOT_SIZE * (1 + extra);
  uint8_t * p;
  uint32_t i;

  /* Records never straddle blocks: end this one early when the record does not fit. */
  if (r->remaining < need)
    st_ring_refill (r);
  p = r->cur;
  st_record_set ((StRecord *) p, location, kind, extra, target);
  for (i = 0; i != payload_size; i++)
    p[ST_SLOT_SIZE + i] = ((const uint8_t *) payload)[i];
  for (i = ST_SLOT_SIZE + payload_size; i != need; i++)
    p[i] = 0;
  st_release_fence ();
  r->cur = p + need;
  r->remaining -= need;
  if (r->remaining == 0)
    st_ring_refill (r);
}

void
st_ring_write_slot (StRing * r, uint64_t word0, uint64_t word1)
{
  StRecord * rec = (StRecord *) r->cur;
  rec->word[0] = word0;
  rec->word[1] = word1;
  st_release_fence ();
  r->cur += ST_SLOT_SIZE;
  r->remaining -= ST_SLOT_SIZE;
  if (r->remaining == 0)
    st_ring_refill (r);
}

static void
put_u32 (uint8_t * p, uint32_t v)
{
  *(uint32_t *) p = v;
}

static void
put_u64 (uint8_t * p, uint64_t v)
{
  put_u32 (p, (uint32_t) v);
  put_u32 (p + 4, (uint32_t) (v >> 32));
}

/*
 * Record starts a copy remembers: a group of records that repeats right after itself begins at
 * one of them.
 */
#define ST_REPEAT_LOOKBACK 8

/*
 * Whether a group may start with this record: control flow, which a loop writes the same each
 * time. Records of values (registers, arguments, times) seldom repeat, and comparing them costs
 * the drain more than it saves.
 */
static int
may_start_group (uint64_t word0)
{
  unsigned kind = (unsigned) (word0 >> ST_REC_KIND_SHIFT) & 0xff;
  return kind == ST_KIND_CALL || kind == ST_KIND_RET || kind == ST_KIND_EXEC || kind == ST_KIND_BLOCK;
}

/*
 * Whether the records from `from` go as they are: none a group may start with, so copy_records
 * would find no repeat. Counts them in `records`.
 */
static int
plain_records (const uint8_t * from, uint32_t bytes, uint32_t * records)
{
  uint32_t at = 0;
  uint32_t n = 0;
  while (at < bytes)
  {
    if (may_start_group (*(const uint64_t *) (from + at)))
      return 0;
    at += ST_SLOT_SIZE * record_slots (from + at);
    n++;
  }
  *records = n;
  return 1;
}

/* What a chunk's records were sent with: chunkFlags bits. */
static uint32_t
copy_flags (int repeated, const StInsnPack * pack)
{
  return (repeated ? ST_CHUNK_REPEATS : 0) | (pack->packs != 0 ? ST_CHUNK_PACKS : 0);
}

/* Ends the open insnpack record, then copies `n` bytes as they are; returns where they end. */
static uint8_t *
put_raw (StInsnPack * pack, uint8_t * o, const uint8_t * from, uint32_t n)
{
  o = st_insn_pack_close (pack, o);
  memcpy (o, from, n);
  return o + n;
}

/*
 * The thread's records from `from`, copied to `out` as they are but for groups of whole records
 * that occur again right after themselves (a loop's calls and returns, the same each time): the
 * copies become one repeat record, which the reader expands. With `pack`, insn records go in
 * insnpack records where they can (insn-pack.h). Writing fewer bytes is what keeps the drain
 * ahead of the thread. Returns the bytes written (never more than `bytes`, though up to
 * ST_INSN_PACK_OVERRUN past them may be scribbled on); `records`: the records they stand for;
 * `flags`: the chunkFlags that say how they were sent.
 */
static uint32_t
copy_records (uint8_t * out, const uint8_t * from, uint32_t bytes, int pack, uint32_t * records, uint32_t * flags)
{
  uint32_t starts[ST_REPEAT_LOOKBACK];
  uint32_t known = 0;
  uint32_t newest = 0;
  uint32_t at = 0;
  uint32_t copied = 0;
  uint8_t * o = out;
  uint32_t n = 0;
  int repeated = 0;
  StInsnPack packer;

  st_insn_pack_begin (&packer);
  while (at < bytes)
  {
    const uint64_t word0 = *(const uint64_t *) (from + at);
    uint32_t found = 0;
    uint32_t times;
    uint32_t size;
    uint32_t i;

    /* A group since each start remembered, newest first (after a repeat: its last copy). */
    for (i = 0; found == 0 && i != known && may_start_group (word0); i++)
    {
      uint32_t p = at - starts[(newest + ST_REPEAT_LOOKBACK - i) % ST_REPEAT_LOOKBACK];
      if (at + p <= bytes && *(const uint64_t *) (from + at - p) == word0 && memcmp (from + at, from + at - p, p) == 0)
        found = p;
    }
    if (found != 0)
    {
      uint32_t step;
      /* Copies of the group double while the bytes after them repeat them all, then take what is left in halving steps. */
      times = 1;
      while (at + 2 * times * found <= bytes && memcmp (from + at + times * found, from + at, times * found) == 0)
        times *= 2;
      for (step = times / 2; step != 0; step /= 2)
      {
        if (at + (times + step) * found <= bytes && memcmp (from + at + times * found, from + at, step * found) == 0)
          times += step;
      }
    }
    /* One repeat record in place of more than one slot. */
    if (found != 0 && times * found > ST_SLOT_SIZE)
    {
      o = put_raw (&packer, o, from + copied, at - copied);
      st_record_set ((StRecord *) o, found / ST_SLOT_SIZE, ST_KIND_REPEAT, 0, times);
      o += ST_SLOT_SIZE;
      n += times * count_records (from + at - found, from + at);
      at += times * found;
      copied = at;
      repeated = 1;
      /* The last copy's first record: the group may go on repeating from there. */
      starts[0] = at - found;
      newest = 0;
      known = 1;
      continue;
    }
    newest = (newest + 1) % ST_REPEAT_LOOKBACK;
    starts[newest] = at;
    if (known != ST_REPEAT_LOOKBACK)
      known++;
    size = ST_SLOT_SIZE * record_slots (from + at);
    if (pack)
    {
      const uint8_t * ref = st_insn_pack_reference (&packer, from + at);
      if (ref != 0)
      {
        if (copied != at)
          o = put_raw (&packer, o, from + copied, at - copied);
        o = st_insn_pack_add (&packer, o, from + at, ref);
        copied = at + size;
      }
    }
    at += size;
    n++;
  }
  o = put_raw (&packer, o, from + copied, bytes - copied);
  *records = n;
  *flags = copy_flags (repeated, &packer);
  return (uint32_t) (o - out);
}

/*
 * Whether the next chunk's insn records are packed. Packing costs the drain about as much time
 * as the thread takes to run the instructions, so under ST_PACK_WHEN_BEHIND it is done only when
 * what drained before is still waiting to be taken because the sink is slow: then bytes hold the
 * thread up. A backlog with a fast sink is a writer waiting for a core, which packing would only
 * take more of.
 */
static int
packing (StTracer * t)
{
  StOutbox * ob = &t->outbox;
  return t->packing == ST_PACK_ALWAYS ||
      (t->packing == ST_PACK_WHEN_BEHIND && t->sink_slow && ob->used[ob->active] + ob->ref_bytes[ob->active] >= ST_PACK_BEHIND_BYTES);
}

/*
 * Records sent by reference are at least this many bytes: for fewer, a copy costs less than
 * holding their block until the writer is done with it.
 */
#define ST_REF_MIN_BYTES 4096

/*
 * Whether the records from `from` go by reference (the writer appends them from the ring): only
 * to the writer, only records that would be copied as they are, and while neither the outbox nor
 * the ring has too many such chunks under way. Counts them.
 */
static int
by_reference (StTracer * t, StRing * r, const uint8_t * from, uint32_t bytes, uint32_t * records)
{
  StOutbox * ob = &t->outbox;
  return t->writer_thread != 0 && bytes >= ST_REF_MIN_BYTES && ob->ref_count[ob->active] != ST_OUTBOX_REFS &&
      r->refs_made - r->refs_written != ST_RING_REFS && !packing (t) && plain_records (from, bytes, records);
}

/* A chunk whose records the writer appends from block `block` of the ring. */
static void
add_reference (StOutbox * ob, StRing * r, const uint8_t * from, uint32_t bytes, uint64_t block)
{
  StOutboxRef * ref = &ob->refs[ob->active][ob->ref_count[ob->active]++];
  ref->at = ob->used[ob->active] + ST_CHUNK_HEADER_SIZE;
  ref->data = from;
  ref->size = bytes;
  ref->ring = r;
  ob->ref_bytes[ob->active] += bytes;
  r->ref_blocks[r->refs_made % ST_RING_REFS] = block;
  st_release_fence ();
  r->refs_made++;
}

/* One chunk into the outbox (locked by the caller), of records in the ring's block `block`; 0 when it does not fit. */
static int
emit (StTracer * t, StRing * r, const uint8_t * from, uint32_t bytes, uint64_t block, int thread_exited)
{
  StOutbox * ob = &t->outbox;
  uint8_t * out;
  uint32_t records;
  uint32_t written;
  uint32_t flags = 0;
  uint32_t kept;

  if (ob->used[ob->active] + ST_CHUNK_HEADER_SIZE + bytes > ob->capacity)
    return 0;
  out = ob->buffers[ob->active] + ob->used[ob->active];
  if (by_reference (t, r, from, bytes, &records))
  {
    add_reference (ob, r, from, bytes, block);
    t->chunks_by_reference++;
    written = bytes;
    kept = 0;
  }
  else
    kept = written = copy_records (out + ST_CHUNK_HEADER_SIZE, from, bytes, packing (t), &records, &flags);
  put_u32 (out + ST_CHUNK_MAGIC_OFFSET, ST_CHUNK_MAGIC);
  put_u32 (out + ST_CHUNK_THREAD_ID_OFFSET, r->thread_id);
  put_u64 (out + ST_CHUNK_FIRST_SEQ_OFFSET, r->records_drained);
  put_u32 (out + ST_CHUNK_RECORD_COUNT_OFFSET, records);
  put_u32 (out + ST_CHUNK_SLOT_COUNT_OFFSET, written / ST_SLOT_SIZE);
  r->lost_reported = r->lossy ? lost_so_far (r) : r->lost;
  put_u64 (out + ST_CHUNK_LOST_OFFSET, r->lost_reported);
  put_u64 (out + ST_CHUNK_TIMESTAMP_NS_OFFSET, st_now_ns () - t->started_ns);
  put_u32 (out + ST_CHUNK_FLAGS_OFFSET, (thread_exited ? ST_CHUNK_THREAD_ENDED : 0) | flags);
  put_u32 (out + ST_CHUNK_RESERVED_OFFSET, 0);
  ob->used[ob->active] += ST_CHUNK_HEADER_SIZE + kept;
  r->records_drained += records;
  return 1;
}

/* Moves what the thread has written into the outbox; returns 1 when nothing is left behind. */
static int
drain_ring (StTracer * t, StRing * r)
{
  for (;;)
  {
    uint64_t produced = r->produced_blocks;
    uint8_t * start;
    uint8_t * cur;
    uint8_t * open_at;
    uint32_t bytes;

    st_acquire_fence ();
    if (r->consumed_blocks < produced)
    {
      uint64_t b = r->consumed_blocks;
      bytes = r->block_fill[b % ST_RING_BLOCKS] - (uint32_t) r->consumed_offset;
      if (bytes != 0 && !emit (t, r, block_start (r, b) + r->consumed_offset, bytes, b, 0))
        return 0;
      r->consumed_offset = 0;
      st_release_fence ();
      r->consumed_blocks = b + 1;
      r->space_signal++;
      st_futex_wake (&r->space_signal);
      continue;
    }

    /* The block the thread is writing now. */
    cur = r->cur;
    st_acquire_fence ();
    open_at = r->insn_open_at;
    if (r->produced_blocks != produced)
      continue;
    start = block_start (r, produced);
    /*
     * Short of a run's record still being filled, but for the last drains: then it goes as it
     * is (insnopen), and the store counts it.
     */
    if (open_at >= start + r->consumed_offset && open_at < cur && !t->stopping && !r->ended)
      cur = open_at;
    if (cur < start || cur > start + ST_BLOCK_SIZE)
      bytes = 0; /* writing into the scratch block */
    else
      bytes = (uint32_t) (cur - start - r->consumed_offset);
    if (bytes == 0)
    {
      /* Nothing new but drops: an empty chunk carries the count. */
      if (r->lossy && lost_so_far (r) != r->lost_reported)
        return emit (t, r, 0, 0, 0, 0);
      return 1;
    }
    if (!emit (t, r, start + r->consumed_offset, bytes, produced, 0))
      return 0;
    r->consumed_offset += bytes;
    return 1;
  }
}

/* A ring whose thread will write no more: count what it dropped last, say so, and let it go. */
static int
finish_ring (StTracer * t, StRing * r)
{
  if (r->dropping)
  {
    r->lost += count_dropped (r);
    r->cur = r->scratch;
  }
  return emit (t, r, 0, 0, 0, r->exited);
}

uint64_t
st_tracer_drain (StTracer * t)
{
  uint64_t before;
  uint32_t i;

  st_lock (t->lock);
  st_lock (t->outbox.lock);
  before = t->outbox.used[t->outbox.active];
  for (i = 0; i < t->ring_count;)
  {
    StRing * r = t->rings[i];
    int ended = r->ended;
    st_acquire_fence ();
    /* A thread that said it is exiting may run on (exit handlers): drained until it is gone. */
    /* Freed or retired only once the writer is done with its blocks. */
    if (drain_ring (t, r) && ended && (!r->exited || !st_thread_alive (r->thread_id)) && r->refs_written == r->refs_made &&
        finish_ring (t, r))
    {
      t->rings[i] = t->rings[--t->ring_count];
      if (r->exited)
        ring_free (r);
      else
      {
        r->next_retired = t->retired;
        t->retired = r;
      }
      continue;
    }
    i++;
  }
  i = t->outbox.used[t->outbox.active] - before;
  st_unlock (t->outbox.lock);
  st_unlock (t->lock);
  return i;
}

/* The filled buffer, swapped for the empty one, with the chunks in it that are references and the bytes of records they stand for. */
static uint64_t
take (StOutbox * ob, uint8_t ** data, StOutboxRef ** refs, uint32_t * ref_count, uint64_t * ref_bytes)
{
  uint64_t n;

  st_lock (ob->lock);
  *data = ob->buffers[ob->active];
  *refs = ob->refs[ob->active];
  *ref_count = ob->ref_count[ob->active];
  *ref_bytes = ob->ref_bytes[ob->active];
  n = ob->used[ob->active];
  ob->active = 1 - ob->active;
  ob->used[ob->active] = 0;
  ob->ref_count[ob->active] = 0;
  ob->ref_bytes[ob->active] = 0;
  st_unlock (ob->lock);
  return n;
}

uint64_t
st_outbox_take (StTracer * t, uint8_t ** data)
{
  StOutboxRef * refs;
  uint32_t ref_count;
  uint64_t ref_bytes;
  /* Never references here: only the writer takes them. */
  return take (&t->outbox, data, &refs, &ref_count, &ref_bytes);
}

static void
drain_loop (void * data)
{
  StTracer * t = data;

  t->drain_thread_id = st_gettid ();
  while (!t->stopping)
  {
    uint32_t signal = t->drain_signal;
    st_acquire_fence ();
    if (st_tracer_drain (t) != 0 && t->writer_thread != 0)
    {
      t->writer_signal++;
      st_futex_wake (&t->writer_signal);
    }
    st_futex_wait (&t->drain_signal, signal, 5);
  }
}

/* Bits 0..5 of a frame header: the low 16 bits of their CRC-32 (zlib's polynomial), bit by bit. */
static uint16_t
frame_header_check (const uint8_t * header)
{
  uint32_t crc = 0xffffffffu;
  uint32_t i, bit;
  for (i = 0; i != ST_FRAME_HEADER_CHECK_OFFSET; i++)
  {
    crc ^= header[i];
    for (bit = 0; bit != 8; bit++)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return (uint16_t) ~crc;
}

/* An events frame's header: unchecked, since a CRC of every byte would cost the target's own time. */
static void
frame_header (uint8_t * header, uint32_t length)
{
  put_u32 (header + ST_FRAME_LENGTH_OFFSET, length);
  header[ST_FRAME_TYPE_OFFSET] = ST_FRAME_TYPE_EVENTS;
  header[ST_FRAME_FLAGS_OFFSET] = ST_FRAME_UNCHECKED;
  *(uint16_t *) (header + ST_FRAME_HEADER_CHECK_OFFSET) = frame_header_check (header);
  put_u32 (header + ST_FRAME_PAYLOAD_CRC_OFFSET, 0);
}

/*
 * Frames are appended at about this size, whole chunks each: the kernel copies a write of many
 * megabytes into the page cache several times slower than the same bytes written a megabyte at
 * a time (measured here: 92 MiB in 16 MiB writes 199 ms, in 1 MiB writes 31 ms).
 */
#define ST_FRAME_PIECE (1024 * 1024)

static void
put_piece (StPiece * pieces, uint32_t * count, const void * data, uint64_t size)
{
  pieces[*count].data = data;
  pieces[*count].size = size;
  (*count)++;
}

/* The writer has appended these chunks (or never will): their blocks are the thread's again. */
static void
release_refs (const StOutboxRef * refs, uint32_t from, uint32_t to)
{
  uint32_t i;
  for (i = from; i != to; i++)
  {
    StRing * r = refs[i].ring;
    st_release_fence ();
    r->refs_written++;
    r->space_signal++;
    st_futex_wake (&r->space_signal);
  }
}

/* What the outbox holds, appended to the capture as frames; returns whether there was any. */
static int
write_outbox (StTracer * t)
{
  uint8_t * data;
  StOutboxRef * refs;
  uint32_t ref_count;
  uint8_t header[ST_FRAME_HEADER_SIZE];
  StPiece pieces[ST_MAX_PIECES];
  uint64_t ref_bytes;
  uint64_t n = take (&t->outbox, &data, &refs, &ref_count, &ref_bytes);
  uint64_t bytes = n + ref_bytes;
  uint64_t cpu_ns;
  uint64_t at;
  uint32_t ref = 0;
  uint32_t released = 0;

  if (n == 0)
    return 0;
  /* CPU time, not the clock: a writer that waited for a core did not find the sink slow. Passes under a frame are not worth two syscalls. */
  cpu_ns = bytes >= ST_FRAME_PIECE ? st_thread_cpu_ns () : 0;
  /* Once nothing holds the link the host is gone: a capture nobody will read must not fill the disk. */
  if (t->write_error == 0 && st_pipe_reader_gone (t->link_fds[1]))
    t->write_error = ST_HOST_GONE;
  for (at = 0; at < n && t->write_error == 0;)
  {
    uint64_t from = at;
    uint64_t length = 0;
    uint32_t count = 1;
    int error;
    /* Whole chunks: a chunk by reference is its header here and its records in the ring. */
    while (at < n && length < ST_FRAME_PIECE && count + 3 <= ST_MAX_PIECES)
    {
      uint64_t records = (uint64_t) *(const uint32_t *) (data + at + ST_CHUNK_SLOT_COUNT_OFFSET) * ST_SLOT_SIZE;
      at += ST_CHUNK_HEADER_SIZE;
      length += ST_CHUNK_HEADER_SIZE + records;
      if (ref != ref_count && refs[ref].at == at)
      {
        put_piece (pieces, &count, data + from, at - from);
        put_piece (pieces, &count, refs[ref].data, refs[ref].size);
        from = at;
        ref++;
      }
      else
        at += records;
    }
    if (at != from)
      put_piece (pieces, &count, data + from, at - from);
    frame_header (header, (uint32_t) length);
    pieces[0].data = header;
    pieces[0].size = ST_FRAME_HEADER_SIZE;
    error = st_file_append (t->capture_fd, pieces, count);
    if (error == 0)
      t->written += ST_FRAME_HEADER_SIZE + length;
    else
      t->write_error = error;
    release_refs (refs, released, ref);
    released = ref;
  }
  release_refs (refs, released, ref_count);
  if (bytes >= ST_FRAME_PIECE)
    t->sink_slow = bytes < st_thread_cpu_ns () - cpu_ns;
  /* The outbox has room again: a ring that found it full need not wait for the next pass. */
  t->drain_signal++;
  st_futex_wake (&t->drain_signal);
  return 1;
}

/* One pass of the capture's writer; `all`: every ring is drained here and written, as a sync asks. */
static void
writer_pass (StTracer * t, int all)
{
  uint32_t request;

  st_lock (t->outbox.lock);
  request = t->sync_request;
  st_unlock (t->outbox.lock);
  if (all || request != t->sync_done)
  {
    do
      st_tracer_drain (t);
    while (write_outbox (t));
  }
  else
  {
    while (write_outbox (t))
      ;
  }
  st_release_fence ();
  t->sync_done = request;
  st_futex_wake (&t->sync_done);
}

/* The capture's only writer in this process: the target's own threads never wait on the disk. */
static void
writer_loop (void * data)
{
  StTracer * t = data;

  t->writer_thread_id = st_gettid ();
  while (!t->writer_stopping)
  {
    uint32_t signal = t->writer_signal;
    st_acquire_fence ();
    writer_pass (t, 0);
    st_futex_wait (&t->writer_signal, signal, 5);
  }
  writer_pass (t, 1);
  st_fd_close (t->capture_fd);
  st_fd_close (t->link_fds[1]);
  st_release_fence ();
  t->writer_stopped = 1;
  st_futex_wake (&t->sync_done);
}

/* A thread of the tracer's own, once it has said its id (which the agent never follows). */
static StThread *
start_thread (StTracer * t, const char * name, void (* func) (void * data), volatile uint32_t * id)
{
  StThread * thread = st_thread_start (name, func, t);
  while (*id == 0)
    st_futex_wait (id, 0, 1);
  return thread;
}

int
st_tracer_capture_open (StTracer * t, const char * path)
{
  int fd = st_file_open_append (path);
  if (fd < 0)
    return -fd;
  t->capture_fd = fd;
  return 0;
}

int
st_tracer_link_open (StTracer * t)
{
  return st_pipe_open (t->link_fds) == 0 ? t->link_fds[0] : -1;
}

void
st_tracer_direct (StTracer * t, int use)
{
  /* Ours would keep the link alive once the host, the one that should hold it, is gone. */
  if (t->link_fds[0] >= 0)
    st_fd_close (t->link_fds[0]);
  if (!use)
  {
    /* Messages cross a USB cable or a network to the host: bytes are what bounds them. */
    t->packing = ST_PACK_ALWAYS;
    if (t->link_fds[1] >= 0)
      st_fd_close (t->link_fds[1]);
    if (t->capture_fd >= 0)
      st_fd_close (t->capture_fd);
    t->capture_fd = -1;
    return;
  }
  t->writer_thread = start_thread (t, "stalk-trace-writer", writer_loop, &t->writer_thread_id);
}

uint32_t
st_tracer_writer_thread_id (StTracer * t)
{
  return t->writer_thread_id;
}

uint64_t
st_tracer_written (StTracer * t)
{
  return t->written;
}

int
st_tracer_write_error (StTracer * t)
{
  return t->write_error;
}

int
st_tracer_host_gone (StTracer * t)
{
  return t->write_error == ST_HOST_GONE || (t->link_fds[1] >= 0 && st_pipe_reader_gone (t->link_fds[1]));
}

void
st_tracer_sync (StTracer * t)
{
  uint32_t request;

  if (t->writer_thread == 0)
    return;
  st_lock (t->outbox.lock);
  request = ++t->sync_request;
  st_unlock (t->outbox.lock);
  t->writer_signal++;
  st_futex_wake (&t->writer_signal);
  for (;;)
  {
    uint32_t done = t->sync_done;
    st_acquire_fence ();
    if ((int32_t) (done - request) >= 0 || t->writer_stopped || t->orphaned)
      break;
    st_futex_wait (&t->sync_done, done, 5);
  }
}

void
st_tracer_start (StTracer * t)
{
  t->drain_thread = start_thread (t, "stalk-trace-drain", drain_loop, &t->drain_thread_id);
}

uint32_t
st_tracer_drain_thread_id (StTracer * t)
{
  return t->drain_thread_id;
}

void
st_tracer_orphan (StTracer * t)
{
  t->orphaned = 1;
  st_tracer_silence (t);
}

int
st_tracer_is_orphaned (StTracer * t)
{
  return t->orphaned != 0;
}

/*
 * Takes no lock: in a forked child one may be held for ever, and at the stop nothing else
 * changes the registry. Retired rings stopped recording when they ended.
 */
void
st_tracer_silence (StTracer * t)
{
  uint32_t i;
  for (i = 0; i != t->ring_count; i++)
    t->rings[i]->recording = 0;
}

void
st_tracer_stop (StTracer * t)
{
  t->stopping = 1;
  t->drain_signal++;
  st_futex_wake (&t->drain_signal);
  st_thread_join (t->drain_thread);
  if (t->writer_thread == 0)
  {
    st_tracer_drain (t);
    return;
  }
  t->writer_stopping = 1;
  t->writer_signal++;
  st_futex_wake (&t->writer_signal);
  st_thread_join (t->writer_thread);
}
