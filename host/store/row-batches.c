/*
 * A query's rows in batches. better-sqlite3 makes each row through several calls into V8, about a
 * microsecond a row, so an answer of millions of rows spent seconds there before any was printed.
 * Here SQLite steps the statement in C and packs rows into one blob per batch
 * (schemas/records.json rowBatch), which the host decodes in one pass (row-batches.ts). Texts
 * repeat from row to row (function and module names), so a batch holds each text once.
 *
 *   stalk_batch_open(sql)          prepares one statement that only reads; returns its handle
 *   stalk_batch_next(handle, size, rows) the next rows: `rows` of them, or fewer where they reach `size`
 *                                  bytes first; NULL after the last
 *   stalk_batch_close(handle)      finalizes it
 */

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

#include "stored-layout.generated.h"

#include <stdint.h>
#include <string.h>

/* Statements open at once on one connection: a query session runs one. */
#define MAX_OPEN 8
/* Texts a batch can name again; a power of two, filled to half at most. */
#define TEXT_SLOTS 8192
/* Longer texts are written each time: hashing them costs more than it saves. */
#define MAX_SHARED_TEXT 1024

typedef struct
{
  uint32_t batch; /* the batch the slot belongs to: older slots are empty */
  uint32_t hash;
  uint32_t number;
  uint32_t length;
  size_t offset; /* of the text's bytes in the batch */
} TextSlot;

typedef struct
{
  sqlite3_stmt * stmt;
  int done; /* stepped to its end: stepping again would start it over */
} Open;

typedef struct
{
  Open open[MAX_OPEN];
  uint32_t batch;
  TextSlot slots[TEXT_SLOTS];
} Batches;

/* Columns whose last text a batch remembers: a column's text is often the one of the row before. */
#define LAST_TEXTS 16

typedef struct
{
  uint32_t number;
  uint32_t length;
  size_t offset;
} LastText;

typedef struct
{
  uint8_t * data;
  sqlite3_uint64 size;
  sqlite3_uint64 capacity;
  uint32_t texts;
  int failed;
  /* length UINT32_MAX: none yet */
  LastText last[LAST_TEXTS];
} Buffer;

static uint8_t *
grow (Buffer * b, sqlite3_uint64 more)
{
  if (b->failed)
    return NULL;
  if (b->size + more > b->capacity)
  {
    sqlite3_uint64 capacity = b->capacity * 2;
    if (capacity < b->size + more)
      capacity = b->size + more + 4096;
    uint8_t * data = sqlite3_realloc64 (b->data, capacity);
    if (data == NULL)
    {
      b->failed = 1;
      return NULL;
    }
    b->data = data;
    b->capacity = capacity;
  }
  uint8_t * at = b->data + b->size;
  b->size += more;
  return at;
}

/* A tag, a u32, then `length` bytes (none where `bytes` is NULL). */
static void
put_tagged (Buffer * b, uint8_t tag, uint32_t u32, const void * bytes, uint32_t length)
{
  uint8_t * at = grow (b, 5 + (sqlite3_uint64) length);
  if (at == NULL)
    return;
  at[0] = tag;
  memcpy (at + 1, &u32, 4);
  if (length > 0)
    memcpy (at + 5, bytes, length);
}

/* A tag and 8 bytes. */
static void
put_8 (Buffer * b, uint8_t tag, const void * bytes)
{
  uint8_t * at = grow (b, 9);
  if (at == NULL)
    return;
  at[0] = tag;
  memcpy (at + 1, bytes, 8);
}

static uint32_t
hash_of (const uint8_t * bytes, uint32_t length)
{
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < length; i++)
    h = (h ^ bytes[i]) * 16777619u;
  return h;
}

/* The slot of a text this batch has already, or NULL with the slot it goes in and its hash. */
static TextSlot *
find_text (Batches * s, Buffer * b, const uint8_t * text, uint32_t length, uint32_t * hash, uint32_t * free_slot)
{
  uint32_t h = hash_of (text, length);
  uint32_t i = h & (TEXT_SLOTS - 1);
  for (; s->slots[i].batch == s->batch; i = (i + 1) & (TEXT_SLOTS - 1))
  {
    TextSlot * slot = &s->slots[i];
    if (slot->hash == h && slot->length == length && memcmp (b->data + slot->offset, text, length) == 0)
      return slot;
  }
  *hash = h;
  *free_slot = i;
  return NULL;
}

/* Column `column`'s text as a number it already has in this batch, or as its bytes (numbered next). */
static void
put_text (Batches * s, Buffer * b, int column, const uint8_t * text, uint32_t length)
{
  LastText * last = column < LAST_TEXTS ? &b->last[column] : NULL;
  uint32_t h = 0;
  uint32_t i = TEXT_SLOTS;

  if (last != NULL && last->length == length && memcmp (b->data + last->offset, text, length) == 0)
  {
    put_tagged (b, ST_ROW_TEXT_AGAIN, last->number, NULL, 0);
    return;
  }
  if (length <= MAX_SHARED_TEXT && b->texts < TEXT_SLOTS / 2)
  {
    TextSlot * known = find_text (s, b, text, length, &h, &i);
    if (known != NULL)
    {
      put_tagged (b, ST_ROW_TEXT_AGAIN, known->number, NULL, 0);
      if (last != NULL)
        *last = (LastText) { known->number, length, known->offset };
      return;
    }
  }
  put_tagged (b, ST_ROW_TEXT, length, text, length);
  if (b->failed)
    return;
  uint32_t number = b->texts++;
  if (i != TEXT_SLOTS)
    s->slots[i] = (TextSlot) { s->batch, h, number, length, b->size - length };
  if (last != NULL)
    *last = (LastText) { number, length, b->size - length };
}

/*
 * A row's columns. Each is read through its value, once looked up: sqlite3_column_value's value
 * is "unprotected", which only means that it must not be read from another thread, and this
 * connection has no other.
 */
static void
put_row (Batches * s, Buffer * b, sqlite3_stmt * stmt)
{
  int columns = sqlite3_column_count (stmt);
  for (int c = 0; c < columns; c++)
  {
    sqlite3_value * v = sqlite3_column_value (stmt, c);
    switch (sqlite3_value_type (v))
    {
      case SQLITE_INTEGER:
      {
        sqlite3_int64 i = sqlite3_value_int64 (v);
        put_8 (b, ST_ROW_INTEGER, &i);
        break;
      }
      case SQLITE_FLOAT:
      {
        double d = sqlite3_value_double (v);
        put_8 (b, ST_ROW_REAL, &d);
        break;
      }
      case SQLITE_TEXT:
      {
        const uint8_t * text = sqlite3_value_text (v);
        put_text (s, b, c, text, (uint32_t) sqlite3_value_bytes (v));
        break;
      }
      case SQLITE_BLOB:
      {
        const void * bytes = sqlite3_value_blob (v);
        uint32_t length = (uint32_t) sqlite3_value_bytes (v);
        put_tagged (b, ST_ROW_BLOB, length, bytes, length);
        break;
      }
      default:
      {
        uint8_t * at = grow (b, 1);
        if (at != NULL)
          *at = ST_ROW_NULL;
      }
    }
  }
}

/* What a handle names, or NULL with the function's error set. */
static Open *
opened (sqlite3_context * ctx, Batches * s, sqlite3_value * handle)
{
  sqlite3_int64 h = sqlite3_value_int64 (handle);
  if (h < 0 || h >= MAX_OPEN || s->open[h].stmt == NULL)
  {
    sqlite3_result_error (ctx, "no such row batch", -1);
    return NULL;
  }
  return &s->open[h];
}

static void
batch_open (sqlite3_context * ctx, int argc, sqlite3_value ** argv)
{
  (void) argc;
  Batches * s = sqlite3_user_data (ctx);
  int h = 0;
  while (h < MAX_OPEN && s->open[h].stmt != NULL)
    h++;
  if (h == MAX_OPEN)
  {
    sqlite3_result_error (ctx, "too many row batches open", -1);
    return;
  }
  sqlite3 * db = sqlite3_context_db_handle (ctx);
  sqlite3_stmt * stmt = NULL;
  const char * tail = NULL;
  int rc = sqlite3_prepare_v2 (db, (const char *) sqlite3_value_text (argv[0]), -1, &stmt, &tail);
  if (rc != SQLITE_OK)
  {
    sqlite3_result_error (ctx, sqlite3_errmsg (db), -1);
    sqlite3_result_error_code (ctx, rc);
    return;
  }
  while (tail != NULL && (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == '\r' || *tail == ';'))
    tail++;
  /* One statement, and one that reads: what the host checked, checked where it runs. */
  if (stmt == NULL || !sqlite3_stmt_readonly (stmt) || (tail != NULL && *tail != '\0'))
  {
    sqlite3_finalize (stmt);
    sqlite3_result_error (ctx, "a row batch runs one statement that only reads", -1);
    return;
  }
  s->open[h] = (Open) { stmt, 0 };
  sqlite3_result_int (ctx, h);
}

static void
batch_next (sqlite3_context * ctx, int argc, sqlite3_value ** argv)
{
  (void) argc;
  Batches * s = sqlite3_user_data (ctx);
  Open * o = opened (ctx, s, argv[0]);
  if (o == NULL)
    return;
  sqlite3_int64 limit = sqlite3_value_int64 (argv[1]);
  sqlite3_int64 rows = sqlite3_value_int64 (argv[2]);
  Buffer b = { 0 };
  for (int c = 0; c < LAST_TEXTS; c++)
    b.last[c].length = UINT32_MAX;
  /* Slots of batch 0 would read as filled once the count wraps. */
  if (++s->batch == 0)
  {
    memset (s->slots, 0, sizeof (s->slots));
    s->batch = 1;
  }
  int rc = SQLITE_ROW;
  for (sqlite3_int64 made = 0; !o->done && !b.failed && (made == 0 || (made < rows && b.size < (sqlite3_uint64) limit)); made++)
  {
    rc = sqlite3_step (o->stmt);
    if (rc != SQLITE_ROW)
      break;
    put_row (s, &b, o->stmt);
  }
  if (rc != SQLITE_ROW)
    o->done = 1;
  if (b.failed)
  {
    sqlite3_free (b.data);
    sqlite3_result_error_nomem (ctx);
  }
  else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
  {
    /* The rows before the failure are dropped: the answer is the error. */
    sqlite3_free (b.data);
    sqlite3 * db = sqlite3_context_db_handle (ctx);
    sqlite3_result_error (ctx, sqlite3_errmsg (db), -1);
    sqlite3_result_error_code (ctx, rc);
  }
  else if (b.size == 0)
    sqlite3_result_null (ctx);
  else
    sqlite3_result_blob64 (ctx, b.data, b.size, sqlite3_free);
}

static void
batch_close (sqlite3_context * ctx, int argc, sqlite3_value ** argv)
{
  (void) argc;
  Open * o = opened (ctx, sqlite3_user_data (ctx), argv[0]);
  if (o == NULL)
    return;
  sqlite3_finalize (o->stmt);
  *o = (Open) { NULL, 0 };
  sqlite3_result_null (ctx);
}

#ifdef _WIN32
__declspec (dllexport)
#endif
int
sqlite3_rowbatches_init (sqlite3 * db, char ** error, const sqlite3_api_routines * api)
{
  SQLITE_EXTENSION_INIT2 (api);
  Batches * s = sqlite3_malloc (sizeof (Batches));
  if (s == NULL)
    return SQLITE_NOMEM;
  memset (s, 0, sizeof (Batches));
  /* The host closes every batch it opens (row-batches.ts), before the connection. */
  int rc = sqlite3_create_function_v2 (db, "stalk_batch_open", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, s, batch_open, NULL, NULL,
      sqlite3_free);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function_v2 (db, "stalk_batch_next", 3, SQLITE_UTF8 | SQLITE_DIRECTONLY, s, batch_next, NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function_v2 (db, "stalk_batch_close", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, s, batch_close, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    *error = sqlite3_mprintf ("%s", sqlite3_errmsg (db));
  return rc;
}
