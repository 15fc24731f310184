/*
 * The events and call_events tables of a query session, as SQLite virtual tables: a row costs a
 * few loads and stores here, where a table of JavaScript rows costs a call into V8 per row and
 * per column. They read event_chunks and call_lists on the connection that queries them; each
 * blob is decompressed, once, by the stalk_events or stalk_calls SQL function the session
 * registers (host/store/event-tables.ts), so the codecs stay in stored-codec.ts.
 *
 * Constraints on thread, seq, kind, location_id and the value columns (target_id, size, ...) are
 * pushed down: only the chunks that can hold a matching event are read, and only matching events
 * become rows. They narrow to a superset only: SQLite checks every constraint again on the rows,
 * so a value of another type or collation simply narrows nothing. A query grouped or
 * ordered by kind reads one kind at a time (event_chunk_kinds says which chunks hold it), and
 * SQLite need not sort; one that reads only thread_id and kind is answered from those counts
 * without decompressing anything.
 */

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

#include "stored-layout.generated.h"
#include "vtab-constraints.h"

#include <math.h>
#include <stdlib.h>

enum
{
  EV_THREAD_ID, EV_SEQ, EV_KIND, EV_DEPTH, EV_LOCATION_ID, EV_TARGET_ID, EV_SIZE, EV_SYSCALL_ID,
  EV_STALL_NS, EV_API_CALL_ID, EV_THREAD
};

enum { CE_THREAD_ID, CE_SEQ, CE_DEPTH, CE_SITE_ID, CE_CALLEE_ID, CE_FOR_CALLEE };

/* idxNum bits of an events plan. */
enum { PLAN_COUNTS = 1, PLAN_KIND_ASC = 2, PLAN_KIND_DESC = 4 };

/*
 * Pushed constraints (vtab-constraints.h), what: t thread, s seq, k kind, l location, c callee,
 * or a value column's number.
 */

/* A row id: the chunk's (or call list's) id above the record's index, so that it stays the same across scans. */
#define ROWID(chunk, index) (((sqlite3_int64) (chunk) << 32) | (sqlite3_int64) (index))

/* What the planner is told, from the trace's own totals. */
typedef struct
{
  double events;
  double threads;
  double calls;
  double callees;
  /* Every event chunk has its kind counts (traces ingested before schema 6 have none). */
  int summarized;
} Stats;

typedef struct
{
  sqlite3_vtab base;
  sqlite3 * db;
  const Stats * stats;
} Table;

typedef struct
{
  sqlite3_vtab_cursor base;
  /* Chunks (or call lists) to read, and the statement that decodes one. */
  sqlite3_stmt * chunks;
  sqlite3_stmt * decode;
  int eof;
  /* Filters, each where its has_ is set. */
  sqlite3_int64 location;
  int has_location;
  sqlite3_int64 value;
  int value_column;
  sqlite3_int64 thread;
  int has_thread;
  sqlite3_int64 seq_lo;
  sqlite3_int64 seq_hi;
  /* Passes, one kind each, for a plan by kind; otherwise one pass of kind (a filter or -1). */
  int kinds[256];
  int pass_count;
  int pass;
  int desc;
  /* Counts only: rows left of the current chunk's kind. */
  int counts;
  sqlite3_int64 left;
  /* The chunk (or list) whose records the decode statement holds, and how many: a join that looks
   * up one event after another in the same chunk decodes it once. */
  sqlite3_int64 decoded_id;
  sqlite3_int64 decoded_records;
  /* The current chunk's events: rows [at, end) not yet visited. */
  sqlite3_int64 chunk_id;
  sqlite3_int64 chunk_thread;
  sqlite3_int64 first_seq;
  const uint8_t * data;
  sqlite3_int64 at;
  sqlite3_int64 end;
  /* The current row. */
  const uint8_t * row;
  sqlite3_int64 index;
  int row_kind;
  /* call_events: the current list's callee. */
  sqlite3_int64 callee;
} Cursor;

/* A failed statement of ours: SQLite's message, which for a stalk_* function is the one it threw. */
static int
fail_db (sqlite3_vtab * vtab, sqlite3 * db, int rc)
{
  return fail (vtab, rc, sqlite3_errmsg (db));
}

static int
connect (sqlite3 * db, void * aux, const char * schema, sqlite3_vtab ** out)
{
  int rc = sqlite3_declare_vtab (db, schema);
  if (rc != SQLITE_OK)
    return rc;
  Table * t = sqlite3_malloc (sizeof (Table));
  if (t == NULL)
    return SQLITE_NOMEM;
  memset (t, 0, sizeof (Table));
  t->db = db;
  t->stats = aux;
  *out = &t->base;
  return SQLITE_OK;
}

static int
events_connect (sqlite3 * db, void * aux, int argc, const char * const * argv, sqlite3_vtab ** out, char ** error)
{
  return connect (db, aux, "CREATE TABLE x(thread_id, seq, kind, depth, location_id, target_id, size, syscall_id, stall_ns, "
      "api_call_id, thread HIDDEN)", out);
}

static int
calls_connect (sqlite3 * db, void * aux, int argc, const char * const * argv, sqlite3_vtab ** out, char ** error)
{
  return connect (db, aux, "CREATE TABLE x(thread_id, seq, depth, site_id, callee_id, for_callee HIDDEN)", out);
}

static int
disconnect (sqlite3_vtab * vtab)
{
  sqlite3_free (vtab);
  return SQLITE_OK;
}

static int
open_cursor (sqlite3_vtab * vtab, sqlite3_vtab_cursor ** out)
{
  Cursor * c = sqlite3_malloc (sizeof (Cursor));
  if (c == NULL)
    return SQLITE_NOMEM;
  memset (c, 0, sizeof (Cursor));
  *out = &c->base;
  return SQLITE_OK;
}

static int
close_cursor (sqlite3_vtab_cursor * cursor)
{
  Cursor * c = (Cursor *) cursor;
  sqlite3_finalize (c->chunks);
  sqlite3_finalize (c->decode);
  sqlite3_free (c);
  return SQLITE_OK;
}

static int
eof (sqlite3_vtab_cursor * cursor)
{
  return ((Cursor *) cursor)->eof;
}

static int
rowid (sqlite3_vtab_cursor * cursor, sqlite3_int64 * out)
{
  Cursor * c = (Cursor *) cursor;
  *out = ROWID (c->chunk_id, c->index);
  return SQLITE_OK;
}

static int
plan (sqlite3_index_info * info, const char * codes, int idx_num, double cost, double rows)
{
  info->idxNum = idx_num;
  info->idxStr = sqlite3_mprintf ("%s", codes);
  if (info->idxStr == NULL)
    return SQLITE_NOMEM;
  info->needToFreeIdxStr = 1;
  info->estimatedCost = cost;
  info->estimatedRows = (sqlite3_int64) (rows < 1 ? 1 : rows);
  return SQLITE_OK;
}

static int
events_best_index (sqlite3_vtab * vtab, sqlite3_index_info * info)
{
  const Stats * s = ((Table *) vtab)->stats;
  char codes[2 * MAX_PUSHED + 1] = { 0 };
  int count = 0;
  int fixed[EV_THREAD + 1] = { 0 };
  int thread_range = 0, seq_bounds = 0;
  for (int i = 0; i < info->nConstraint && count < MAX_PUSHED; i++)
  {
    const struct sqlite3_index_constraint * k = &info->aConstraint[i];
    char op = operator_code (k->op);
    if (!k->usable || op == 0)
      continue;
    switch (k->iColumn)
    {
      case EV_THREAD_ID:
      case EV_THREAD:
        push (info, i, 't', op, codes, &count);
        if (op == '=')
          fixed[EV_THREAD_ID] = fixed[EV_THREAD] = 1;
        else
          thread_range = 1;
        break;
      case EV_SEQ:
        push (info, i, 's', op, codes, &count);
        if (op == '=')
          fixed[EV_SEQ] = 1;
        else
          seq_bounds++;
        break;
      case EV_KIND:
        if (op != '=' || strcmp (sqlite3_vtab_collation (info, i), "BINARY") != 0)
          break;
        push (info, i, 'k', op, codes, &count);
        fixed[EV_KIND] = 1;
        break;
      case EV_LOCATION_ID:
      case EV_TARGET_ID:
      case EV_SIZE:
      case EV_SYSCALL_ID:
      case EV_STALL_NS:
      case EV_API_CALL_ID:
        if (op != '=')
          break;
        push (info, i, k->iColumn == EV_LOCATION_ID ? 'l' : '0' + k->iColumn, op, codes, &count);
        fixed[k->iColumn] = 1;
        break;
    }
  }

  /*
   * Rows come in (thread_id, seq) order, or kind by kind and so within each kind; an ORDER BY
   * (or GROUP BY, DISTINCT) that this order satisfies needs no sort. Terms on a column fixed by
   * `=` are satisfied by any order (SQLite itself gives up the order where `=` is an IN list).
   */
  int kind_order = 0, thread_ordered = fixed[EV_THREAD_ID], consumed = 1;
  for (int i = 0, first = 1; i < info->nOrderBy && consumed; i++)
  {
    int column = info->aOrderBy[i].iColumn;
    int desc = info->aOrderBy[i].desc;
    if (column >= 0 && column <= EV_THREAD && fixed[column])
      continue;
    if (column == EV_KIND && first && s->summarized)
      kind_order = desc ? PLAN_KIND_DESC : PLAN_KIND_ASC;
    else if ((column == EV_THREAD_ID || column == EV_THREAD) && !desc && !thread_ordered)
      thread_ordered = 1;
    else if (column == EV_SEQ && !desc && thread_ordered)
      break; /* (thread_id, seq) is unique: later terms cannot reorder anything. */
    else
      consumed = 0;
    first = 0;
  }
  if (consumed)
    info->orderByConsumed = 1;
  else
    kind_order = 0;

  const sqlite3_uint64 count_columns = (1 << EV_THREAD_ID) | (1 << EV_KIND) | (1 << EV_THREAD);
  int counts = s->summarized && (info->colUsed & ~count_columns) == 0;

  /* Cost: the events decoded, plus those returned. */
  double scanned = s->events, rows = s->events;
  if (fixed[EV_THREAD_ID])
    scanned /= s->threads;
  else if (thread_range)
    scanned /= 2;
  if (fixed[EV_SEQ])
    scanned = scanned < 16384 ? scanned : 16384;
  else if (seq_bounds > 0)
    scanned /= seq_bounds > 1 ? 16 : 2;
  rows = scanned;
  if (fixed[EV_KIND])
    rows /= 8;
  for (int column = EV_LOCATION_ID; column <= EV_API_CALL_ID; column++)
  {
    if (fixed[column])
      rows /= 100;
  }
  if (fixed[EV_THREAD_ID] && fixed[EV_SEQ])
  {
    rows = 1;
    info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  }
  if (counts)
    scanned /= 16;
  return plan (info, codes, kind_order | (counts ? PLAN_COUNTS : 0), scanned + rows, rows);
}

static int
calls_best_index (sqlite3_vtab * vtab, sqlite3_index_info * info)
{
  const Stats * s = ((Table *) vtab)->stats;
  char codes[2 * MAX_PUSHED + 1] = { 0 };
  int count = 0;
  double rows = s->calls;
  for (int i = 0; i < info->nConstraint && count < MAX_PUSHED; i++)
  {
    const struct sqlite3_index_constraint * k = &info->aConstraint[i];
    if (!k->usable || k->op != SQLITE_INDEX_CONSTRAINT_EQ)
      continue;
    if (k->iColumn == CE_CALLEE_ID || k->iColumn == CE_FOR_CALLEE)
    {
      /*
       * One callee's lists come through the call_lists_callee index: few rows, as SQLite guesses
       * of an indexed `=` without statistics, so that a join finds the callee first. The average
       * (calls / callees) would send `calls WHERE callee = ...` scanning every call in a trace
       * of few functions.
       */
      push (info, i, 'c', '=', codes, &count);
      rows = fmin (rows / s->callees, 10);
    }
    else if (k->iColumn == CE_THREAD_ID)
    {
      push (info, i, 't', '=', codes, &count);
    }
  }
  return plan (info, codes, 0, rows, rows);
}

/*
 * Narrows an `=` filter on an integer column (*has: one is set) by `= v`; returns 1 where no row
 * can match. Only numbers narrow, as in narrow().
 */
static int
equal_filter (sqlite3_value * v, sqlite3_int64 * filter, int * has)
{
  sqlite3_int64 lo = INT64_MIN, hi = INT64_MAX;
  int type = sqlite3_value_type (v);
  if (type != SQLITE_INTEGER && type != SQLITE_FLOAT)
    return 0;
  narrow (v, '=', &lo, &hi);
  if (lo != hi || (*has && *filter != lo))
    return 1;
  *filter = lo;
  *has = 1;
  return 0;
}

static int
compare_names_asc (const void * a, const void * b)
{
  return strcmp (st_kind_names[*(const int *) a], st_kind_names[*(const int *) b]);
}

static int
compare_names_desc (const void * a, const void * b)
{
  return -compare_names_asc (a, b);
}

/* The kinds any chunk holds, in name order, as passes. */
static int
plan_kind_passes (Cursor * c, sqlite3 * db, int desc)
{
  sqlite3_stmt * kinds;
  int rc = sqlite3_prepare_v2 (db, "SELECT DISTINCT kind FROM main.event_chunk_kinds", -1, &kinds, NULL);
  if (rc != SQLITE_OK)
    return fail_db (c->base.pVtab, db, rc);
  c->pass_count = 0;
  while ((rc = sqlite3_step (kinds)) == SQLITE_ROW)
  {
    sqlite3_int64 kind = sqlite3_column_int64 (kinds, 0);
    if (kind < 0 || kind > 255 || st_kind_names[kind] == NULL)
    {
      sqlite3_finalize (kinds);
      char * message = sqlite3_mprintf ("the trace database is damaged: event_chunk_kinds counts events of unknown kind %lld", kind);
      rc = fail (c->base.pVtab, SQLITE_CORRUPT, message);
      sqlite3_free (message);
      return rc;
    }
    c->kinds[c->pass_count++] = (int) kind;
  }
  sqlite3_finalize (kinds);
  if (rc != SQLITE_DONE)
    return fail_db (c->base.pVtab, db, rc);
  qsort (c->kinds, c->pass_count, sizeof (int), desc ? compare_names_desc : compare_names_asc);
  return SQLITE_OK;
}

/* The column a kind's value is in: call/ret their target, block/compile their size, and so on. */
static int
column_of_value (int kind)
{
  switch (kind)
  {
    case ST_KIND_CALL:
    case ST_KIND_RET:
      return EV_TARGET_ID;
    case ST_KIND_BLOCK:
    case ST_KIND_COMPILE:
      return EV_SIZE;
    case ST_KIND_SYSCALL:
    case ST_KIND_SYSRET:
      return EV_SYSCALL_ID;
    case ST_KIND_STALL:
      return EV_STALL_NS;
    case ST_KIND_APICALL:
    case ST_KIND_APIRET:
      return EV_API_CALL_ID;
    default:
      return -1;
  }
}

/* Decodes the current chunk (or call list) into c->data: its records of `size` bytes, *records of them. */
static int
decode (Cursor * c, int size, sqlite3_int64 * records)
{
  Table * t = (Table *) c->base.pVtab;
  if (c->decoded_id != c->chunk_id)
  {
    c->decoded_id = 0;
    sqlite3_reset (c->decode);
    sqlite3_bind_int64 (c->decode, 1, c->chunk_id);
    int rc = sqlite3_step (c->decode);
    if (rc != SQLITE_ROW)
      return fail_db (&t->base, t->db, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
    c->decoded_id = c->chunk_id;
    c->decoded_records = sqlite3_column_bytes (c->decode, 0) / size;
  }
  c->data = sqlite3_column_blob (c->decode, 0);
  *records = c->decoded_records;
  return SQLITE_OK;
}

/* Binds the current pass's kind and starts the chunk statement over. */
static void
start_pass (Cursor * c)
{
  sqlite3_reset (c->chunks);
  if (c->kinds[c->pass] >= 0)
    sqlite3_bind_int (c->chunks, 5, c->kinds[c->pass]);
}

/* Moves to the next chunk holding rows that can match, ending the pass (then the scan) after the last. */
static int
events_next_chunk (Cursor * c)
{
  Table * t = (Table *) c->base.pVtab;
  for (;;)
  {
    int rc = sqlite3_step (c->chunks);
    if (rc == SQLITE_DONE)
    {
      if (++c->pass >= c->pass_count)
      {
        c->eof = 1;
        return SQLITE_OK;
      }
      start_pass (c);
      continue;
    }
    if (rc != SQLITE_ROW)
      return fail_db (&t->base, t->db, rc);
    c->chunk_id = sqlite3_column_int64 (c->chunks, 0);
    c->chunk_thread = sqlite3_column_int64 (c->chunks, 1);
    c->first_seq = sqlite3_column_int64 (c->chunks, 2);
    sqlite3_int64 count = sqlite3_column_int64 (c->chunks, 3);
    if (c->counts)
    {
      c->row_kind = sqlite3_column_int (c->chunks, 4);
      if (c->row_kind < 0 || c->row_kind > 255 || st_kind_names[c->row_kind] == NULL)
      {
        char * message = sqlite3_mprintf ("the trace database is damaged: event chunk %lld counts events of unknown kind %d",
            c->chunk_id, c->row_kind);
        rc = fail (&t->base, SQLITE_CORRUPT, message);
        sqlite3_free (message);
        return rc;
      }
      c->left = sqlite3_column_int64 (c->chunks, 5);
      /* Rows of one kind are numbered after those of lower kinds in the chunk. */
      c->index = sqlite3_column_int64 (c->chunks, 6) - 1;
      if (c->left > 0)
        return SQLITE_OK;
      continue;
    }
    /* The chunk's records within the seq window (seqs are never negative: no overflow). */
    if (c->seq_hi < c->first_seq || (c->seq_lo > c->first_seq && c->seq_lo - c->first_seq >= count))
      continue;
    sqlite3_int64 from = c->seq_lo > c->first_seq ? c->seq_lo - c->first_seq : 0;
    sqlite3_int64 to = c->seq_hi - c->first_seq;
    sqlite3_int64 records;
    rc = decode (c, ST_STORED_EVENT_SIZE, &records);
    if (rc != SQLITE_OK)
      return rc;
    c->at = from;
    c->end = to < records ? to + 1 : records;
    if (c->at < c->end)
      return SQLITE_OK;
  }
}

/* Moves to the next event that passes the filters. */
static int
events_advance (Cursor * c)
{
  for (;;)
  {
    if (c->counts)
    {
      if (c->left > 0)
      {
        c->left--;
        c->index++;
        return SQLITE_OK;
      }
    }
    else
    {
      while (c->at < c->end)
      {
        const uint8_t * r = c->data + c->at * ST_STORED_EVENT_SIZE;
        int kind = st_stored_event_kind (r);
        if ((c->kinds[c->pass] < 0 || kind == c->kinds[c->pass]) &&
            (!c->has_location || st_stored_event_location_id (r) == c->location) &&
            (c->value_column < 0 || (column_of_value (kind) == c->value_column && (sqlite3_int64) st_stored_event_value (r) == c->value)))
        {
          c->row = r;
          c->row_kind = kind;
          c->index = c->at++;
          return SQLITE_OK;
        }
        c->at++;
      }
    }
    int rc = events_next_chunk (c);
    if (rc != SQLITE_OK || c->eof)
      return rc;
  }
}

static int
events_filter (sqlite3_vtab_cursor * cursor, int idx_num, const char * codes, int argc, sqlite3_value ** argv)
{
  Cursor * c = (Cursor *) cursor;
  Table * t = (Table *) cursor->pVtab;
  sqlite3_int64 thread_lo = INT64_MIN, thread_hi = INT64_MAX;
  int kind = -1;
  c->seq_lo = INT64_MIN;
  c->seq_hi = INT64_MAX;
  c->has_location = 0;
  c->value_column = -1;
  c->eof = 0;
  int has_value = 0;
  c->counts = (idx_num & PLAN_COUNTS) != 0;
  int empty = 0;
  for (int i = 0; i < argc; i++)
  {
    char what = codes[2 * i], op = codes[2 * i + 1];
    switch (what)
    {
      case 't':
        narrow (argv[i], op, &thread_lo, &thread_hi);
        break;
      case 's':
        narrow (argv[i], op, &c->seq_lo, &c->seq_hi);
        break;
      case 'k':
      {
        if (sqlite3_value_type (argv[i]) != SQLITE_TEXT)
          break;
        const char * name = (const char *) sqlite3_value_text (argv[i]);
        int found = -1;
        for (int k = 0; k < 256 && found < 0; k++)
        {
          if (st_kind_names[k] != NULL && strcmp (st_kind_names[k], name) == 0)
            found = k;
        }
        if (found < 0 || (kind >= 0 && kind != found))
          empty = 1;
        kind = found;
        break;
      }
      case 'l':
        empty |= equal_filter (argv[i], &c->location, &c->has_location);
        break;
      default:
        /* A row has one value column: `=` on two of them holds for none. */
        if (c->value_column >= 0 && c->value_column != what - '0')
          empty = 1;
        c->value_column = what - '0';
        empty |= equal_filter (argv[i], &c->value, &has_value);
        if (!has_value)
          c->value_column = -1;
    }
  }
  if (empty || thread_lo > thread_hi || c->seq_lo > c->seq_hi)
  {
    c->eof = 1;
    return SQLITE_OK;
  }

  int by_kind = (idx_num & (PLAN_KIND_ASC | PLAN_KIND_DESC)) != 0 && kind < 0;
  int rc;
  c->pass = 0;
  if (by_kind)
  {
    rc = plan_kind_passes (c, t->db, (idx_num & PLAN_KIND_DESC) != 0);
    if (rc != SQLITE_OK)
      return rc;
  }
  else
  {
    c->kinds[0] = kind;
    c->pass_count = 1;
  }
  if (c->pass_count == 0)
  {
    c->eof = 1;
    return SQLITE_OK;
  }

  /* ?1..?2 the threads, ?3..?4 the seqs, ?5 the pass's kind. */
  int kind_known = c->kinds[0] >= 0 && ((Table *) cursor->pVtab)->stats->summarized;
  sqlite3_str * sql = sqlite3_str_new (t->db);
  if (c->counts)
  {
    sqlite3_str_appendall (sql, "SELECT c.id, c.thread_id, c.first_seq, c.count, k.kind, k.count, "
        "(SELECT coalesce(sum(b.count), 0) FROM main.event_chunk_kinds b WHERE b.chunk_id = c.id AND b.kind < k.kind) "
        "FROM main.event_chunks c JOIN main.event_chunk_kinds k ON k.chunk_id = c.id WHERE 1");
    if (kind_known)
      sqlite3_str_appendall (sql, " AND k.kind = ?5");
  }
  else
  {
    sqlite3_str_appendall (sql, "SELECT c.id, c.thread_id, c.first_seq, c.count FROM main.event_chunks c WHERE 1");
    if (kind_known)
      sqlite3_str_appendall (sql, " AND EXISTS (SELECT 1 FROM main.event_chunk_kinds k WHERE k.chunk_id = c.id AND k.kind = ?5)");
  }
  if (thread_lo != INT64_MIN)
    sqlite3_str_appendall (sql, " AND c.thread_id >= ?1");
  if (thread_hi != INT64_MAX)
    sqlite3_str_appendall (sql, " AND c.thread_id <= ?2");
  if (c->seq_hi != INT64_MAX)
    sqlite3_str_appendall (sql, " AND c.first_seq <= ?4");
  if (c->seq_lo != INT64_MIN)
  {
    /* Through the (thread_id, first_seq) index, one thread's chunks start at the one holding ?3. */
    if (thread_lo == thread_hi)
      sqlite3_str_appendall (sql, " AND c.first_seq >= coalesce((SELECT max(first_seq) FROM main.event_chunks "
          "WHERE thread_id = ?1 AND first_seq <= ?3), ?3)");
    sqlite3_str_appendall (sql, " AND c.first_seq + c.count > ?3");
  }
  sqlite3_str_appendall (sql, c->counts ? " ORDER BY c.thread_id, c.first_seq, k.kind" : " ORDER BY c.thread_id, c.first_seq");
  char * text = sqlite3_str_finish (sql);
  if (text == NULL)
    return SQLITE_NOMEM;
  sqlite3_finalize (c->chunks);
  c->chunks = NULL;
  rc = sqlite3_prepare_v2 (t->db, text, -1, &c->chunks, NULL);
  sqlite3_free (text);
  if (rc != SQLITE_OK)
    return fail_db (&t->base, t->db, rc);
  sqlite3_bind_int64 (c->chunks, 1, thread_lo);
  sqlite3_bind_int64 (c->chunks, 2, thread_hi);
  sqlite3_bind_int64 (c->chunks, 3, c->seq_lo);
  sqlite3_bind_int64 (c->chunks, 4, c->seq_hi);
  if (c->decode == NULL && !c->counts)
  {
    rc = sqlite3_prepare_v2 (t->db, "SELECT stalk_events(codec, data, thread_id) FROM main.event_chunks WHERE id = ?1", -1,
        &c->decode, NULL);
    if (rc != SQLITE_OK)
      return fail_db (&t->base, t->db, rc);
  }
  start_pass (c);
  c->at = c->end = 0;
  c->left = 0;
  return events_advance (c);
}

static int
events_next (sqlite3_vtab_cursor * cursor)
{
  return events_advance ((Cursor *) cursor);
}

static int
events_column (sqlite3_vtab_cursor * cursor, sqlite3_context * context, int column)
{
  Cursor * c = (Cursor *) cursor;
  switch (column)
  {
    case EV_THREAD_ID:
    case EV_THREAD:
      sqlite3_result_int64 (context, c->chunk_thread);
      return SQLITE_OK;
    case EV_KIND:
      sqlite3_result_text (context, st_kind_names[c->row_kind], -1, SQLITE_STATIC);
      return SQLITE_OK;
  }
  /* A plan that counts is only made where no other column is read: it has no record to read. */
  const uint8_t * r = c->row;
  if (r == NULL)
    return fail (cursor->pVtab, SQLITE_INTERNAL, "events: a plan that counts was asked for a column it cannot have");
  switch (column)
  {
    case EV_SEQ:
      sqlite3_result_int64 (context, c->first_seq + c->index);
      break;
    case EV_DEPTH:
      sqlite3_result_int (context, st_stored_event_depth (r));
      break;
    case EV_LOCATION_ID:
      sqlite3_result_int64 (context, st_stored_event_location_id (r));
      break;
    default:
      if (column == column_of_value (c->row_kind))
        sqlite3_result_int64 (context, (sqlite3_int64) st_stored_event_value (r));
      else
        sqlite3_result_null (context);
  }
  return SQLITE_OK;
}

static int
calls_advance (Cursor * c)
{
  Table * t = (Table *) c->base.pVtab;
  for (;;)
  {
    while (c->at < c->end)
    {
      const uint8_t * r = c->data + c->at * ST_STORED_CALL_SIZE;
      if (!c->has_thread || st_stored_call_thread_id (r) == c->thread)
      {
        c->row = r;
        c->index = c->at++;
        return SQLITE_OK;
      }
      c->at++;
    }
    int rc = sqlite3_step (c->chunks);
    if (rc == SQLITE_DONE)
    {
      c->eof = 1;
      return SQLITE_OK;
    }
    if (rc != SQLITE_ROW)
      return fail_db (&t->base, t->db, rc);
    c->chunk_id = sqlite3_column_int64 (c->chunks, 0);
    c->callee = sqlite3_column_int64 (c->chunks, 1);
    rc = decode (c, ST_STORED_CALL_SIZE, &c->end);
    if (rc != SQLITE_OK)
      return rc;
    c->at = 0;
  }
}

static int
calls_filter (sqlite3_vtab_cursor * cursor, int idx_num, const char * codes, int argc, sqlite3_value ** argv)
{
  Cursor * c = (Cursor *) cursor;
  Table * t = (Table *) cursor->pVtab;
  sqlite3_int64 callee = 0;
  int has_callee = 0, empty = 0;
  c->has_thread = 0;
  c->eof = 0;
  c->at = c->end = 0;
  for (int i = 0; i < argc; i++)
    empty |= codes[2 * i] == 'c' ? equal_filter (argv[i], &callee, &has_callee) : equal_filter (argv[i], &c->thread, &c->has_thread);
  if (empty)
  {
    c->eof = 1;
    return SQLITE_OK;
  }
  sqlite3_finalize (c->chunks);
  c->chunks = NULL;
  int rc = sqlite3_prepare_v2 (t->db, has_callee ? "SELECT id, callee_id FROM main.call_lists WHERE callee_id = ?1 ORDER BY id"
      : "SELECT id, callee_id FROM main.call_lists ORDER BY id", -1, &c->chunks, NULL);
  if (rc == SQLITE_OK && c->decode == NULL)
    rc = sqlite3_prepare_v2 (t->db, "SELECT stalk_calls(codec, data, callee_id) FROM main.call_lists WHERE id = ?1", -1, &c->decode, NULL);
  if (rc != SQLITE_OK)
    return fail_db (&t->base, t->db, rc);
  if (has_callee)
    sqlite3_bind_int64 (c->chunks, 1, callee);
  return calls_advance (c);
}

static int
calls_next (sqlite3_vtab_cursor * cursor)
{
  return calls_advance ((Cursor *) cursor);
}

static int
calls_column (sqlite3_vtab_cursor * cursor, sqlite3_context * context, int column)
{
  Cursor * c = (Cursor *) cursor;
  const uint8_t * r = c->row;
  switch (column)
  {
    case CE_THREAD_ID: sqlite3_result_int64 (context, st_stored_call_thread_id (r)); break;
    case CE_SEQ: sqlite3_result_int64 (context, (sqlite3_int64) st_stored_call_seq (r)); break;
    case CE_DEPTH: sqlite3_result_int (context, st_stored_call_depth (r)); break;
    case CE_SITE_ID: sqlite3_result_int64 (context, st_stored_call_site_id (r)); break;
    default: sqlite3_result_int64 (context, c->callee); break;
  }
  return SQLITE_OK;
}

/* Eponymous only (no xCreate): the tables exist in every session without CREATE VIRTUAL TABLE. */
static sqlite3_module events_module = {
  .xConnect = events_connect, .xBestIndex = events_best_index, .xDisconnect = disconnect, .xDestroy = disconnect,
  .xOpen = open_cursor, .xClose = close_cursor, .xFilter = events_filter, .xNext = events_next, .xEof = eof,
  .xColumn = events_column, .xRowid = rowid,
};

static sqlite3_module calls_module = {
  .xConnect = calls_connect, .xBestIndex = calls_best_index, .xDisconnect = disconnect, .xDestroy = disconnect,
  .xOpen = open_cursor, .xClose = close_cursor, .xFilter = calls_filter, .xNext = calls_next, .xEof = eof,
  .xColumn = calls_column, .xRowid = rowid,
};

static int
read_stats (sqlite3 * db, Stats * s)
{
  /*
   * Totals only steer the plan. Kind counts are written with every chunk from schema 6 on, and
   * chunk ids only grow: where the first chunk has them, all have.
   */
  sqlite3_stmt * stmt;
  int rc = sqlite3_prepare_v2 (db,
      "SELECT (SELECT coalesce(sum(events), 0) FROM main.threads), (SELECT count(*) FROM main.threads), "
      "(SELECT coalesce(sum(calls), 0) FROM main.function_stats), (SELECT count(DISTINCT function_id) FROM main.function_stats), "
      "EXISTS (SELECT 1 FROM main.event_chunk_kinds WHERE chunk_id = (SELECT min(id) FROM main.event_chunks))", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return rc;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
  {
    s->events = fmax (sqlite3_column_double (stmt, 0), 1000);
    s->threads = fmax (sqlite3_column_double (stmt, 1), 1);
    s->calls = fmax (sqlite3_column_double (stmt, 2), 1000);
    s->callees = fmax (sqlite3_column_double (stmt, 3), 1);
    s->summarized = sqlite3_column_int (stmt, 4);
    rc = SQLITE_OK;
  }
  sqlite3_finalize (stmt);
  return rc;
}

#ifdef _WIN32
__declspec (dllexport)
#endif
int
sqlite3_eventtables_init (sqlite3 * db, char ** error, const sqlite3_api_routines * api)
{
  SQLITE_EXTENSION_INIT2 (api);
  Stats * stats = sqlite3_malloc (sizeof (Stats));
  if (stats == NULL)
    return SQLITE_NOMEM;
  int rc = read_stats (db, stats);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module_v2 (db, "events", &events_module, stats, sqlite3_free);
  else
    sqlite3_free (stats);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module (db, "call_events", &calls_module, stats);
  if (rc != SQLITE_OK)
    *error = sqlite3_mprintf ("%s", sqlite3_errmsg (db));
  return rc;
}
