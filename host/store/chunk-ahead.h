/*
 * Chunks decoded ahead of a scan, on a thread of the cursor's own (chunk-ahead.c). The
 * connection's thread reads a chunk's columns (SQLite and the codec's function are its alone)
 * and hands them over; their rows are decoded while it returns the rows of the chunks before.
 * A ring of slots, filled, decoded and taken in the order the chunks are read.
 */

#ifndef STALK_TRACE_CHUNK_AHEAD_H
#define STALK_TRACE_CHUNK_AHEAD_H

#include "insn-chunk-read.h"

#include <pthread.h>

#define AHEAD_CHUNKS 4

typedef struct
{
  /* Its columns in source->data (`bytes` of the first, then `more` of the second), then its rows. */
  Source * source;
  int bytes;
  int more;
  /* Its seqs' bounds, for the merge to know when it needs it. */
  sqlite3_int64 first, last;
  /* What decoding it returned. */
  int rc;
} AheadChunk;

/* Decodes a chunk's columns into its rows; runs on the read-ahead thread. */
typedef int (*AheadDecode) (void * context, AheadChunk * chunk);

typedef struct
{
  AheadDecode decode;
  void * context;
  AheadChunk slots[AHEAD_CHUNKS];
  /* Chunks handed over, decoded and taken since the last clear; a chunk's slot is its count's remainder. */
  unsigned submitted, decoded, taken;
  /* Clearing: what is left is not decoded. */
  int discard;
  int stop;
  int running;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t work, done;
} ChunkAhead;

int ahead_init (ChunkAhead * a, AheadDecode decode, void * context);
void ahead_destroy (ChunkAhead * a);
/* The slot to fill next, or NULL where `depth` chunks are already handed over and not taken. */
AheadChunk * ahead_slot (ChunkAhead * a, unsigned depth);
/*
 * Hands the filled slot over; `now`: decoded here at once, as where no thread can be started (a
 * scan that has no rows to return meanwhile gains nothing from the thread).
 */
void ahead_submit (ChunkAhead * a, int now);
/* The oldest chunk handed over and not taken (its bounds only: it may be decoding), or NULL. */
const AheadChunk * ahead_next (const ChunkAhead * a);
/* That chunk, once decoded: its source is the caller's. */
AheadChunk * ahead_take (ChunkAhead * a);
/* Drops every chunk not taken, once the thread has let go of it. */
void ahead_clear (ChunkAhead * a);

#endif
