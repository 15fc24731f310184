/*
 * The read-ahead of chunk-ahead.h: one thread per cursor, started when a chunk is first handed
 * over (a scan's first chunk is decoded at once) and stopped when the cursor closes. submitted
 * and taken change on the connection's thread only; the thread reads submitted, and both change
 * decoded, under the lock, which also orders a slot's contents between them.
 */

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3

#include "chunk-ahead.h"

#include <signal.h>
#include <string.h>

int
ahead_init (ChunkAhead * a, AheadDecode decode, void * context)
{
  memset (a, 0, sizeof (ChunkAhead));
  a->decode = decode;
  a->context = context;
  if (pthread_mutex_init (&a->lock, NULL) != 0)
    return SQLITE_NOMEM;
  if (pthread_cond_init (&a->work, NULL) != 0)
  {
    pthread_mutex_destroy (&a->lock);
    return SQLITE_NOMEM;
  }
  if (pthread_cond_init (&a->done, NULL) != 0)
  {
    pthread_cond_destroy (&a->work);
    pthread_mutex_destroy (&a->lock);
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

static void *
work (void * arg)
{
  ChunkAhead * a = arg;
  pthread_mutex_lock (&a->lock);
  for (;;)
  {
    while (!a->stop && a->decoded == a->submitted)
      pthread_cond_wait (&a->work, &a->lock);
    if (a->stop)
      break;
    AheadChunk * chunk = &a->slots[a->decoded % AHEAD_CHUNKS];
    int discard = a->discard;
    pthread_mutex_unlock (&a->lock);
    chunk->rc = discard ? SQLITE_OK : a->decode (a->context, chunk);
    pthread_mutex_lock (&a->lock);
    a->decoded++;
    pthread_cond_signal (&a->done);
  }
  pthread_mutex_unlock (&a->lock);
  return NULL;
}

/*
 * The thread allocates rows with sqlite3_malloc: only a SQLite built thread-safe (better-sqlite3's
 * is) lets it; any other decodes on the connection's thread. It takes no signal: the process's
 * own threads handle them, as they expect to.
 */
static void
start (ChunkAhead * a)
{
  if (sqlite3_threadsafe () == 0)
    return;
  sigset_t all, before;
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &before);
  a->running = pthread_create (&a->thread, NULL, work, a) == 0;
  pthread_sigmask (SIG_SETMASK, &before, NULL);
}

AheadChunk *
ahead_slot (ChunkAhead * a, unsigned depth)
{
  if (depth > AHEAD_CHUNKS)
    depth = AHEAD_CHUNKS;
  /* Only this thread changes submitted and taken. */
  return a->submitted - a->taken >= depth ? NULL : &a->slots[a->submitted % AHEAD_CHUNKS];
}

void
ahead_submit (ChunkAhead * a, int now)
{
  pthread_mutex_lock (&a->lock);
  int idle = a->decoded == a->submitted;
  pthread_mutex_unlock (&a->lock);
  /* Slots are decoded in order: here only when none is waiting for the thread. */
  int here = now && idle;
  if (!here && !a->running)
    start (a);
  /* Without the thread, none ever waits for it. */
  if (here || !a->running)
  {
    AheadChunk * chunk = &a->slots[a->submitted % AHEAD_CHUNKS];
    chunk->rc = a->decode (a->context, chunk);
    pthread_mutex_lock (&a->lock);
    a->submitted++;
    a->decoded++;
    pthread_mutex_unlock (&a->lock);
    return;
  }
  pthread_mutex_lock (&a->lock);
  a->submitted++;
  pthread_cond_signal (&a->work);
  pthread_mutex_unlock (&a->lock);
}

const AheadChunk *
ahead_next (const ChunkAhead * a)
{
  return a->taken == a->submitted ? NULL : &a->slots[a->taken % AHEAD_CHUNKS];
}

AheadChunk *
ahead_take (ChunkAhead * a)
{
  if (a->taken == a->submitted)
    return NULL;
  pthread_mutex_lock (&a->lock);
  while (a->decoded == a->taken)
    pthread_cond_wait (&a->done, &a->lock);
  pthread_mutex_unlock (&a->lock);
  return &a->slots[a->taken++ % AHEAD_CHUNKS];
}

void
ahead_clear (ChunkAhead * a)
{
  pthread_mutex_lock (&a->lock);
  a->discard = 1;
  while (a->decoded != a->submitted)
    pthread_cond_wait (&a->done, &a->lock);
  a->discard = 0;
  pthread_mutex_unlock (&a->lock);
  for (; a->taken != a->submitted; a->taken++)
  {
    AheadChunk * chunk = &a->slots[a->taken % AHEAD_CHUNKS];
    insn_free_source (chunk->source);
    chunk->source = NULL;
  }
}

void
ahead_destroy (ChunkAhead * a)
{
  ahead_clear (a);
  if (a->running)
  {
    pthread_mutex_lock (&a->lock);
    a->stop = 1;
    pthread_cond_signal (&a->work);
    pthread_mutex_unlock (&a->lock);
    pthread_join (a->thread, NULL);
    a->running = 0;
  }
  pthread_cond_destroy (&a->done);
  pthread_cond_destroy (&a->work);
  pthread_mutex_destroy (&a->lock);
}
