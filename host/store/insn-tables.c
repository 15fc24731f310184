/*
 * The instruction tables of a query session, as SQLite virtual tables over insn_chunks
 * (schemas/sqlite/0007_insn_chunks.sql; the column format is records.json insnChunk):
 *   insn_rows(seq, thread_id, address, location_id, size, run_seq, layout_id HIDDEN)
 *                                                                     every instruction
 *   reg_writes(seq, reg, value, thread_id HIDDEN)                     every register write
 *   mem_accesses(seq, access, address, size, value, syscall_id, thread_id HIDDEN)
 *                                                                     every memory access, with
 *                                                                     what the kernel wrote
 *                                                                     (insn_kernel_writes)
 * A chunk's compressed column is decompressed, once per chunk a scan opens, by the
 * stalk_insn_column SQL function the session registers (host/store/insn-tables.ts), so the codecs
 * stay in stored-codec.ts; the varints are read here, the chunks a scan will need next on a
 * thread of its cursor's own (chunk-ahead.c) while the rows of those before are returned.
 *
 * Constraints are pushed down to choose chunks: seq and thread through the chunks' own seq
 * range, reg through insn_chunk_regs, address through insn_chunk_pages, value through each
 * chunk's value filter (stalk_insn_may_hold). Within a chunk only matching entries become rows.
 * They narrow to a superset only, and SQLite checks them again on the rows, except reg and access,
 * which are exact. Rows come in
 * seq order (or its reverse) across threads, merged from the chunks that overlap, so `ORDER BY
 * seq [DESC] LIMIT n` reads only the chunks it needs. `count(*)` of one register's writes is
 * answered from insn_chunk_regs without decompressing anything.
 */

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

#include "stored-layout.generated.h"
#include "insn-chunk-read.h"
#include "chunk-ahead.h"

#include <math.h>
#include <stdlib.h>

enum { IR_SEQ, IR_THREAD_ID, IR_ADDRESS, IR_LOCATION_ID, IR_SIZE, IR_RUN_SEQ, IR_LAYOUT_ID };
enum { RW_SEQ, RW_REG, RW_VALUE, RW_THREAD_ID };
enum { MA_SEQ, MA_ACCESS, MA_ADDRESS, MA_SIZE, MA_VALUE, MA_SYSCALL_ID, MA_THREAD_ID };

/* idxNum bits. */
enum { PLAN_DESC = 1, PLAN_COUNTS = 2 };

/* Instructions of one run at most (an insnlayout's count is 16 bits): bounds seq from run_seq. */
#define MAX_RUN 65535

typedef struct
{
  sqlite3_vtab_cursor base;
  Filter f;
  int desc;
  int eof;
  /* Chunks that can match, in the order merged; those read from it and not opened yet. */
  sqlite3_stmt * chunks;
  int chunks_read;
  ChunkAhead ahead;
  /* How many chunks to read ahead: one at first, more as a scan goes on (a LIMIT may need one only). */
  unsigned depth;
  sqlite3_stmt * decode;
  /* mem_accesses: reads a chunk's mem_values. */
  sqlite3_stmt * values;
  Source ** active;
  int active_count;
  int active_capacity;
  Source * current;
  /* Counts only: the rows left of the current (register, chunk). */
  int counts;
  sqlite3_int64 left, count_chunk, count_thread;
  int count_reg;
} Cursor;

static const char * const schemas[] = {
  [T_INSNS] = "CREATE TABLE x(seq, thread_id, address, location_id, size, run_seq, layout_id HIDDEN)",
  [T_REGS] = "CREATE TABLE x(seq, reg, value, thread_id HIDDEN)",
  [T_MEMS] = "CREATE TABLE x(seq, access, address, size, value, syscall_id, thread_id HIDDEN)",
};

static int
connect (sqlite3 * db, void * aux, int kind, sqlite3_vtab ** out)
{
  int rc = sqlite3_declare_vtab (db, schemas[kind]);
  if (rc != SQLITE_OK)
    return rc;
  Table * t = sqlite3_malloc (sizeof (Table));
  if (t == NULL)
    return SQLITE_NOMEM;
  memset (t, 0, sizeof (Table));
  t->db = db;
  t->shared = aux;
  t->kind = kind;
  *out = &t->base;
  return SQLITE_OK;
}

static int
insns_connect (sqlite3 * db, void * aux, int argc, const char * const * argv, sqlite3_vtab ** out, char ** error)
{
  return connect (db, aux, T_INSNS, out);
}

static int
regs_connect (sqlite3 * db, void * aux, int argc, const char * const * argv, sqlite3_vtab ** out, char ** error)
{
  return connect (db, aux, T_REGS, out);
}

static int
mems_connect (sqlite3 * db, void * aux, int argc, const char * const * argv, sqlite3_vtab ** out, char ** error)
{
  return connect (db, aux, T_MEMS, out);
}

static int
disconnect (sqlite3_vtab * vtab)
{
  sqlite3_free (vtab);
  return SQLITE_OK;
}

static void
reset_cursor (Cursor * c)
{
  ahead_clear (&c->ahead);
  c->chunks_read = 0;
  for (int i = 0; i < c->active_count; i++)
    insn_free_source (c->active[i]);
  c->active_count = 0;
  c->current = NULL;
  sqlite3_free (c->f.value_blob);
  c->f.value_blob = NULL;
}

/*
 * A chunk's rows, on the read-ahead thread: it reads the cursor's filter and the layouts, which
 * stay as they are while chunks are handed over (a new filter clears the read-ahead first).
 */
static int
decode_chunk (void * context, AheadChunk * chunk)
{
  const Cursor * c = context;
  const Table * t = (const Table *) c->base.pVtab;
  Source * s = chunk->source;
  Reader r = { s->data, s->data + chunk->bytes, 0 };
  Reader m = { s->data + chunk->bytes, s->data + chunk->bytes + chunk->more, 0 };
  switch (t->kind)
  {
    case T_INSNS: return insn_decode_runs (t->shared, s, &r, chunk->first, &c->f);
    case T_REGS: return insn_decode_regs (s, &r, chunk->first, &c->f);
    default: return insn_decode_mems (t->shared, s, &r, &m, chunk->first, &c->f);
  }
}

static int
open_cursor (sqlite3_vtab * vtab, sqlite3_vtab_cursor ** out)
{
  Cursor * c = sqlite3_malloc (sizeof (Cursor));
  if (c == NULL)
    return SQLITE_NOMEM;
  memset (c, 0, sizeof (Cursor));
  int rc = ahead_init (&c->ahead, decode_chunk, c);
  if (rc != SQLITE_OK)
  {
    sqlite3_free (c);
    return rc;
  }
  *out = &c->base;
  return SQLITE_OK;
}

static int
close_cursor (sqlite3_vtab_cursor * cursor)
{
  Cursor * c = (Cursor *) cursor;
  reset_cursor (c);
  ahead_destroy (&c->ahead);
  sqlite3_free (c->active);
  sqlite3_finalize (c->chunks);
  sqlite3_finalize (c->decode);
  sqlite3_finalize (c->values);
  sqlite3_free (c);
  return SQLITE_OK;
}

static int
eof (sqlite3_vtab_cursor * cursor)
{
  return ((Cursor *) cursor)->eof;
}

/* Columns per table: which one is seq, thread_id, and the constraints each can take. */
static int
column_code (int kind, int column, char op, sqlite3_index_info * info, int i)
{
  int binary = strcmp (sqlite3_vtab_collation (info, i), "BINARY") == 0;
  switch (kind)
  {
    case T_INSNS:
      if (column == IR_SEQ) return 's';
      if (column == IR_THREAD_ID) return 't';
      if (column == IR_RUN_SEQ) return 'r';
      return 0;
    case T_REGS:
      if (column == RW_SEQ) return 's';
      if (column == RW_THREAD_ID) return 't';
      if (column == RW_REG && op == '=' && binary) return 'g';
      if (column == RW_VALUE && op == '=' && binary) return 'v';
      return 0;
    default:
      if (column == MA_SEQ) return 's';
      if (column == MA_THREAD_ID) return 't';
      if (column == MA_ADDRESS) return 'd';
      if (column == MA_ACCESS && op == '=' && binary) return 'a';
      return 0;
  }
}

static int
best_index (sqlite3_vtab * vtab, sqlite3_index_info * info)
{
  Table * t = (Table *) vtab;
  const Shared * s = t->shared;
  char codes[2 * MAX_PUSHED + 1] = { 0 };
  int count = 0;
  double rows = s->insns * (t->kind == T_MEMS ? 0.3 : t->kind == T_REGS ? 0.8 : 1);
  int seq_eq = 0, seq_bounds = 0, narrowing = 0;
  for (int i = 0; i < info->nConstraint && count < MAX_PUSHED; i++)
  {
    const struct sqlite3_index_constraint * k = &info->aConstraint[i];
    char op = operator_code (k->op);
    if (!k->usable || op == 0)
      continue;
    char what = column_code (t->kind, k->iColumn, op, info, i);
    if (what == 0)
      continue;
    push (info, i, what, op, codes, &count);
    if (what == 's' || what == 'r')
    {
      if (op == '=')
        seq_eq = 1;
      else
        seq_bounds++;
      narrowing = 1;
    }
    else if (what == 't')
    {
      rows /= op == '=' ? s->threads : 2;
    }
    else if (what == 'g')
    {
      /* Exact (a name that is no register's matches nothing), so SQLite need not check it again on every row. */
      info->aConstraintUsage[i].omit = 1;
      rows /= 16;
    }
    else if (what == 'v')
    {
      rows /= 10000;
      narrowing = 1;
    }
    else if (what == 'd')
    {
      /*
       * Against an integer written in the statement the filter is exact (every row has an
       * integer address), so SQLite need not check it again on every row; a bound parameter
       * may be any type, so SQLite checks that.
       */
      sqlite3_value * rhs = NULL;
      if (sqlite3_vtab_rhs_value (info, i, &rhs) == SQLITE_OK && sqlite3_value_type (rhs) == SQLITE_INTEGER)
        info->aConstraintUsage[i].omit = 1;
      rows /= op == '=' ? 10000 : 100;
      narrowing = 1;
    }
    else if (what == 'a')
    {
      info->aConstraintUsage[i].omit = 1;
      rows /= 2;
    }
  }
  if (seq_eq)
    rows = fmin (rows, 4);
  else if (seq_bounds > 0)
    rows /= seq_bounds > 1 ? 64 : 2;

  int plan = 0;
  if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == 0)
  {
    info->orderByConsumed = 1;
    if (info->aOrderBy[0].desc)
      plan |= PLAN_DESC;
  }
  /* A count of one register's writes (or all): what insn_chunk_regs holds. */
  const sqlite3_uint64 countable = (1 << RW_REG) | (1 << RW_THREAD_ID);
  if (t->kind == T_REGS && !narrowing && info->nOrderBy == 0 && (info->colUsed & ~countable) == 0)
    plan |= PLAN_COUNTS;
  info->idxNum = plan;
  info->idxStr = sqlite3_mprintf ("%s", codes);
  if (info->idxStr == NULL)
    return SQLITE_NOMEM;
  info->needToFreeIdxStr = 1;
  double scanned = (plan & PLAN_COUNTS) ? rows / 1000 : rows;
  info->estimatedCost = 10 + scanned;
  info->estimatedRows = (sqlite3_int64) (rows < 1 ? 1 : rows);
  return SQLITE_OK;
}

static int
add_active (Cursor * c, Source * s)
{
  if (s->count == 0)
  {
    insn_free_source (s);
    return SQLITE_OK;
  }
  if (c->active_count == c->active_capacity)
  {
    int capacity = c->active_capacity == 0 ? 8 : c->active_capacity * 2;
    Source ** active = sqlite3_realloc64 (c->active, (sqlite3_uint64) capacity * sizeof (Source *));
    if (active == NULL)
    {
      insn_free_source (s);
      return SQLITE_NOMEM;
    }
    c->active = active;
    c->active_capacity = capacity;
  }
  s->at = c->desc ? s->count - 1 : 0;
  c->active[c->active_count++] = s;
  return SQLITE_OK;
}

/* Reads a chunk's columns into a new source of the slot, for decode_chunk. */
static int
read_columns (Cursor * c, AheadChunk * chunk)
{
  Table * t = (Table *) c->base.pVtab;
  Source * s = sqlite3_malloc (sizeof (Source));
  if (s == NULL)
    return SQLITE_NOMEM;
  memset (s, 0, sizeof (Source));
  s->id = sqlite3_column_int64 (c->chunks, 0);
  s->thread = sqlite3_column_int64 (c->chunks, 1);
  chunk->first = sqlite3_column_int64 (c->chunks, 2);
  chunk->last = sqlite3_column_int64 (c->chunks, 3);
  sqlite3_reset (c->decode);
  sqlite3_bind_int64 (c->decode, 1, s->id);
  int rc = sqlite3_step (c->decode);
  if (rc != SQLITE_ROW)
  {
    insn_free_source (s);
    sqlite3_reset (c->decode);
    return fail_db (&t->base, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
  }
  /* mem_accesses decodes two columns: runs, then mems. */
  int columns = sqlite3_column_count (c->decode);
  chunk->bytes = sqlite3_column_bytes (c->decode, 0);
  chunk->more = columns > 1 ? sqlite3_column_bytes (c->decode, 1) : 0;
  s->data = sqlite3_malloc (chunk->bytes + chunk->more + 1);
  if (s->data == NULL)
  {
    insn_free_source (s);
    sqlite3_reset (c->decode);
    return SQLITE_NOMEM;
  }
  if (chunk->bytes > 0)
    memcpy (s->data, sqlite3_column_blob (c->decode, 0), chunk->bytes);
  if (chunk->more > 0)
    memcpy (s->data + chunk->bytes, sqlite3_column_blob (c->decode, 1), chunk->more);
  sqlite3_reset (c->decode);
  chunk->source = s;
  return SQLITE_OK;
}

/* Reads chunks from the chunk statement, and their columns, and hands them over to be decoded: as many as the read-ahead's depth. */
static int
read_ahead (Cursor * c)
{
  AheadChunk * chunk;
  while (!c->chunks_read && (chunk = ahead_slot (&c->ahead, c->depth)) != NULL)
  {
    int rc = sqlite3_step (c->chunks);
    if (rc == SQLITE_DONE)
    {
      c->chunks_read = 1;
      break;
    }
    if (rc != SQLITE_ROW)
      return fail_db (c->base.pVtab, rc);
    rc = read_columns (c, chunk);
    if (rc != SQLITE_OK)
      return rc;
    ahead_submit (&c->ahead, c->active_count == 0);
  }
  return SQLITE_OK;
}

/* Takes the next chunk read ahead, decoded into a source of its matching rows. */
static int
open_next (Cursor * c)
{
  AheadChunk * chunk = ahead_take (&c->ahead);
  Source * s = chunk->source;
  chunk->source = NULL;
  if (chunk->rc != SQLITE_OK)
  {
    sqlite3_int64 id = s->id;
    insn_free_source (s);
    return chunk->rc == SQLITE_CORRUPT ? damaged (c->base.pVtab, id) : chunk->rc;
  }
  int rc = add_active (c, s);
  if (rc == SQLITE_OK)
    rc = read_ahead (c);
  if (c->depth < AHEAD_CHUNKS)
    c->depth *= 2;
  return rc;
}

static sqlite3_int64
order_key (const Row * row)
{
  return row->no_seq ? INT64_MIN : row->seq;
}

/* The next row in seq order (or its reverse) among the open sources, opening every chunk that may come before it. */
static int
merge (Cursor * c)
{
  for (;;)
  {
    for (int i = 0; i < c->active_count; i++)
    {
      Source * s = c->active[i];
      if (s->at < 0 || s->at >= s->count)
      {
        insn_free_source (s);
        c->active[i--] = c->active[--c->active_count];
      }
    }
    int best = -1;
    sqlite3_int64 key = 0;
    for (int i = 0; i < c->active_count; i++)
    {
      Source * s = c->active[i];
      sqlite3_int64 k = order_key (&s->rows[s->at]);
      /* Equal keys: the lower source id (the kernel's writes, 0, come first, as they were stored before the instruction's own). */
      if (best < 0 || (c->desc ? k > key : k < key) || (k == key && s->id < c->active[best]->id))
      {
        best = i;
        key = k;
      }
    }
    const AheadChunk * pending = ahead_next (&c->ahead);
    if (pending != NULL && (best < 0 || (c->desc ? pending->last >= key : pending->first <= key)))
    {
      int rc = open_next (c);
      if (rc != SQLITE_OK)
        return rc;
      continue;
    }
    if (best < 0)
    {
      c->eof = 1;
      c->current = NULL;
      return SQLITE_OK;
    }
    c->current = c->active[best];
    return SQLITE_OK;
  }
}

/* mem_accesses: the kernel's writes that match, as one source (id 0). */
static int
kernel_source (Cursor * c)
{
  Table * t = (Table *) c->base.pVtab;
  if (c->f.access == 0)
    return SQLITE_OK;
  sqlite3_stmt * stmt;
  int rc = sqlite3_prepare_v2 (t->db, "SELECT k.id, k.seq, s.thread_id, k.address, k.size, k.value, k.syscall_id "
      "FROM main.insn_kernel_writes k JOIN main.syscalls s ON s.id = k.syscall_id WHERE s.thread_id BETWEEN ?1 AND ?2 "
      "AND k.address BETWEEN ?3 AND ?4 ORDER BY k.seq, k.id", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return fail_db (&t->base, rc);
  sqlite3_bind_int64 (stmt, 1, c->f.thread_lo);
  sqlite3_bind_int64 (stmt, 2, c->f.thread_hi);
  sqlite3_bind_int64 (stmt, 3, c->f.address_lo);
  sqlite3_bind_int64 (stmt, 4, c->f.address_hi);
  Source * s = sqlite3_malloc (sizeof (Source));
  if (s == NULL)
  {
    sqlite3_finalize (stmt);
    return SQLITE_NOMEM;
  }
  memset (s, 0, sizeof (Source));
  /* Values are copied one after another into one buffer, sized by a first pass. */
  size_t total = 0;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    total += sqlite3_column_bytes (stmt, 5);
  s->data = sqlite3_malloc64 (total + 1);
  sqlite3_reset (stmt);
  int bounded = c->f.seq_lo != INT64_MIN || c->f.seq_hi != INT64_MAX;
  size_t at = 0;
  int nomem = s->data == NULL;
  while (!nomem && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
  {
    int no_seq = sqlite3_column_type (stmt, 1) == SQLITE_NULL;
    sqlite3_int64 seq = sqlite3_column_int64 (stmt, 1);
    if (no_seq ? bounded : !in_seq (&c->f, seq))
      continue;
    Row * row = insn_add_row (s);
    nomem = row == NULL;
    if (nomem)
      break;
    int len = sqlite3_column_bytes (stmt, 5);
    if (len > 0)
      memcpy (s->data + at, sqlite3_column_blob (stmt, 5), len);
    row->ordinal = sqlite3_column_int64 (stmt, 0);
    row->seq = seq;
    row->no_seq = no_seq;
    row->b = sqlite3_column_int64 (stmt, 2);
    row->a = sqlite3_column_int64 (stmt, 3);
    row->d = sqlite3_column_int (stmt, 4);
    row->bytes = s->data + at;
    row->len = len;
    row->type = SQLITE_BLOB;
    row->write = 1;
    row->kernel = 1;
    row->c = sqlite3_column_int64 (stmt, 6);
    at += len;
  }
  sqlite3_finalize (stmt);
  if (nomem)
  {
    insn_free_source (s);
    return SQLITE_NOMEM;
  }
  if (rc != SQLITE_DONE)
  {
    insn_free_source (s);
    return fail_db (&t->base, rc);
  }
  /* In seq order, NULLs first as SQLite orders them. */
  return add_active (c, s);
}

#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF (x)
/* A column of a chunk as stored (records.json storedCodecs): only what is compressed goes through the codec's function. */
#define AS_IS(column) "CASE WHEN codec IN (" TEXT (ST_STORED_CODEC_RAW) ", " TEXT (ST_STORED_CODEC_DEFLATE_REGS) ") THEN " column \
  " ELSE stalk_insn_column(codec, " column ", id) END"

static const char * const decoders[] = {
  [T_INSNS] = "SELECT " AS_IS ("runs") " FROM main.insn_chunks WHERE id = ?1",
  [T_REGS] = "SELECT CASE c.codec WHEN " TEXT (ST_STORED_CODEC_RAW) " THEN w.regs WHEN " TEXT (ST_STORED_CODEC_DEFLATE_REGS) " THEN stalk_insn_column("
      TEXT (ST_STORED_CODEC_DEFLATE) ", w.regs, c.id) ELSE stalk_insn_column(c.codec, w.regs, c.id) END "
      "FROM main.insn_chunks c JOIN main.insn_chunk_reg_writes w ON w.chunk_id = c.id WHERE c.id = ?1",
  [T_MEMS] = "SELECT " AS_IS ("runs") ", " AS_IS ("mems") " FROM main.insn_chunks WHERE id = ?1",
};

static int
prepare_chunks (Cursor * c)
{
  Table * t = (Table *) c->base.pVtab;
  const Filter * f = &c->f;
  sqlite3_str * sql = sqlite3_str_new (t->db);
  sqlite3_str_appendall (sql, "SELECT c.id, c.thread_id, c.first_seq, c.last_seq FROM main.insn_chunks c WHERE 1");
  if (f->seq_hi != INT64_MAX)
    sqlite3_str_appendall (sql, " AND c.first_seq <= ?2");
  if (f->seq_lo != INT64_MIN)
    sqlite3_str_appendall (sql, " AND c.last_seq >= ?1");
  if (f->thread_lo != INT64_MIN || f->thread_hi != INT64_MAX)
    sqlite3_str_appendall (sql, " AND c.thread_id BETWEEN ?3 AND ?4");
  if (f->reg >= 0)
    sqlite3_str_appendall (sql, " AND c.id IN (SELECT chunk_id FROM main.insn_chunk_regs WHERE reg = ?5)");
  if (f->value_type != SQLITE_NULL)
    sqlite3_str_appendall (sql, " AND stalk_insn_may_hold(c.value_filter, ?6)");
  if (f->address_lo != INT64_MIN || f->address_hi != INT64_MAX || f->access >= 0)
  {
    sqlite3_str_appendall (sql, " AND c.id IN (SELECT chunk_id FROM main.insn_chunk_pages WHERE page BETWEEN ?7 AND ?8");
    if (f->access >= 0)
      sqlite3_str_appendall (sql, " AND access & ?9");
    sqlite3_str_appendall (sql, ")");
  }
  sqlite3_str_appendall (sql, c->desc ? " ORDER BY c.last_seq DESC" : " ORDER BY c.first_seq");
  char * text = sqlite3_str_finish (sql);
  if (text == NULL)
    return SQLITE_NOMEM;
  sqlite3_finalize (c->chunks);
  c->chunks = NULL;
  int rc = sqlite3_prepare_v2 (t->db, text, -1, &c->chunks, NULL);
  sqlite3_free (text);
  if (rc != SQLITE_OK)
    return fail_db (&t->base, rc);
  sqlite3_bind_int64 (c->chunks, 1, f->seq_lo);
  sqlite3_bind_int64 (c->chunks, 2, f->seq_hi);
  sqlite3_bind_int64 (c->chunks, 3, f->thread_lo);
  sqlite3_bind_int64 (c->chunks, 4, f->thread_hi);
  sqlite3_bind_int (c->chunks, 5, f->reg);
  if (f->value_type == SQLITE_INTEGER)
    sqlite3_bind_int64 (c->chunks, 6, f->value_int);
  else if (f->value_type == SQLITE_BLOB)
    sqlite3_bind_blob (c->chunks, 6, f->value_blob, f->value_len, SQLITE_STATIC);
  /* Pages by arithmetic shift, as insn_chunk_pages stores them. */
  sqlite3_bind_int64 (c->chunks, 7, f->address_lo >> ST_INSN_PAGE_SHIFT);
  sqlite3_bind_int64 (c->chunks, 8, f->address_hi >> ST_INSN_PAGE_SHIFT);
  sqlite3_bind_int (c->chunks, 9, f->access == 1 ? 2 : 1);
  return SQLITE_OK;
}

/* Counts: one statement row per (register, chunk), whose writes become that many rows. */
static int
counts_next (Cursor * c)
{
  while (c->left == 0)
  {
    int rc = sqlite3_step (c->chunks);
    if (rc == SQLITE_DONE)
    {
      c->eof = 1;
      return SQLITE_OK;
    }
    if (rc != SQLITE_ROW)
      return fail_db (c->base.pVtab, rc);
    c->count_chunk = sqlite3_column_int64 (c->chunks, 0);
    c->count_thread = sqlite3_column_int64 (c->chunks, 1);
    c->count_reg = sqlite3_column_int (c->chunks, 2) & (REGISTERS - 1);
    c->left = sqlite3_column_int64 (c->chunks, 3);
  }
  c->left--;
  return SQLITE_OK;
}

static int
counts_filter (Cursor * c)
{
  Table * t = (Table *) c->base.pVtab;
  sqlite3_finalize (c->chunks);
  c->chunks = NULL;
  int rc = sqlite3_prepare_v2 (t->db, "SELECT r.chunk_id, c.thread_id, r.reg, r.writes FROM main.insn_chunk_regs r "
      "JOIN main.insn_chunks c ON c.id = r.chunk_id WHERE (?1 < 0 OR r.reg = ?1) AND c.thread_id BETWEEN ?2 AND ?3", -1, &c->chunks, NULL);
  if (rc != SQLITE_OK)
    return fail_db (&t->base, rc);
  sqlite3_bind_int (c->chunks, 1, c->f.reg);
  sqlite3_bind_int64 (c->chunks, 2, c->f.thread_lo);
  sqlite3_bind_int64 (c->chunks, 3, c->f.thread_hi);
  c->left = 0;
  return counts_next (c);
}

/* A register's id by name; -2 where the trace has none of that name. */
static int
register_id (Table * t, sqlite3_value * v)
{
  if (sqlite3_value_type (v) != SQLITE_TEXT)
    return -2;
  const char * name = (const char *) sqlite3_value_text (v);
  for (int id = 0; id < REGISTERS; id++)
  {
    if (t->shared->names[id] != NULL && strcmp (t->shared->names[id], name) == 0)
      return id;
  }
  return -2;
}

/* `value = v`: the first such constraint narrows (SQLite checks any other again). Returns 1 where no row can match. */
static int
value_filter (Filter * f, sqlite3_value * v, int * nomem)
{
  int type = sqlite3_value_type (v);
  if (f->value_type != SQLITE_NULL)
    return 0;
  if (type == SQLITE_NULL)
    return 1;
  if (type == SQLITE_FLOAT)
  {
    /* A float equals an integer value only where it is that integer; near the ends of int64 it narrows nothing. */
    double d = sqlite3_value_double (v);
    if (d != floor (d))
      return 1;
    if (fabs (d) >= 4611686018427387904.0)
      return 0;
    f->value_int = (sqlite3_int64) d;
    type = SQLITE_INTEGER;
  }
  else if (type == SQLITE_INTEGER)
  {
    f->value_int = sqlite3_value_int64 (v);
  }
  else if (type == SQLITE_BLOB)
  {
    f->value_len = sqlite3_value_bytes (v);
    f->value_blob = sqlite3_malloc (f->value_len + 1);
    if (f->value_blob == NULL)
    {
      *nomem = 1;
      return 0;
    }
    if (f->value_len > 0)
      memcpy (f->value_blob, sqlite3_value_blob (v), f->value_len);
  }
  else
  {
    return 0;
  }
  f->value_type = type;
  return 0;
}

static int
filter (sqlite3_vtab_cursor * cursor, int idx_num, const char * codes, int argc, sqlite3_value ** argv)
{
  Cursor * c = (Cursor *) cursor;
  Table * t = (Table *) cursor->pVtab;
  reset_cursor (c);
  Filter * f = &c->f;
  f->seq_lo = f->thread_lo = f->address_lo = INT64_MIN;
  f->seq_hi = f->thread_hi = f->address_hi = INT64_MAX;
  f->reg = -1;
  f->access = -1;
  f->value_type = SQLITE_NULL;
  c->desc = (idx_num & PLAN_DESC) != 0;
  c->counts = (idx_num & PLAN_COUNTS) != 0;
  c->eof = 0;
  int empty = 0, nomem = 0;
  int rc = t->kind == T_REGS ? insn_read_registers (t) : insn_read_layouts (t);
  if (rc != SQLITE_OK)
    return rc;
  for (int i = 0; i < argc; i++)
  {
    char what = codes[2 * i], op = codes[2 * i + 1];
    if (what == 's')
    {
      narrow (argv[i], op, &f->seq_lo, &f->seq_hi);
    }
    else if (what == 'r')
    {
      /* A run's instructions follow its run_seq by less than MAX_RUN. */
      sqlite3_int64 lo = INT64_MIN, hi = INT64_MAX;
      narrow (argv[i], op, &lo, &hi);
      empty |= lo > hi;
      if (lo > f->seq_lo)
        f->seq_lo = lo;
      if (hi < INT64_MAX - MAX_RUN && hi + MAX_RUN < f->seq_hi)
        f->seq_hi = hi + MAX_RUN;
    }
    else if (what == 't')
    {
      narrow (argv[i], op, &f->thread_lo, &f->thread_hi);
    }
    else if (what == 'd')
    {
      narrow (argv[i], op, &f->address_lo, &f->address_hi);
    }
    else if (what == 'g')
    {
      int id = register_id (t, argv[i]);
      empty |= id < 0 || (f->reg >= 0 && f->reg != id);
      f->reg = id;
    }
    else if (what == 'a')
    {
      const char * access = sqlite3_value_type (argv[i]) == SQLITE_TEXT ? (const char *) sqlite3_value_text (argv[i]) : "";
      int a = strcmp (access, "r") == 0 ? 0 : strcmp (access, "w") == 0 ? 1 : -2;
      empty |= a < 0 || (f->access >= 0 && f->access != a);
      f->access = a;
    }
    else if (what == 'v')
    {
      empty |= value_filter (f, argv[i], &nomem);
    }
  }
  if (nomem)
    return SQLITE_NOMEM;
  if (empty || f->seq_lo > f->seq_hi || f->thread_lo > f->thread_hi || f->address_lo > f->address_hi)
  {
    c->eof = 1;
    return SQLITE_OK;
  }
  if (c->counts)
    return counts_filter (c);
  rc = prepare_chunks (c);
  if (rc != SQLITE_OK)
    return rc;
  if (c->decode == NULL)
  {
    rc = sqlite3_prepare_v2 (t->db, decoders[t->kind], -1, &c->decode, NULL);
    if (rc != SQLITE_OK)
      return fail_db (&t->base, rc);
  }
  if (t->kind == T_MEMS)
  {
    rc = kernel_source (c);
    if (rc != SQLITE_OK)
      return rc;
  }
  c->depth = 1;
  rc = read_ahead (c);
  return rc != SQLITE_OK ? rc : merge (c);
}

static int
next (sqlite3_vtab_cursor * cursor)
{
  Cursor * c = (Cursor *) cursor;
  if (c->counts)
    return counts_next (c);
  Source * s = c->current;
  s->at += c->desc ? -1 : 1;
  return merge (c);
}

static int
rowid (sqlite3_vtab_cursor * cursor, sqlite3_int64 * out)
{
  Cursor * c = (Cursor *) cursor;
  if (c->counts)
  {
    *out = (c->count_chunk << 32) | (c->left & 0xffffffff);
    return SQLITE_OK;
  }
  const Row * row = &c->current->rows[c->current->at];
  *out = (c->current->id << 32) | row->ordinal;
  return SQLITE_OK;
}

/*
 * An instruction's recorded memory value, from its chunk's mem_values: read once per chunk, when a
 * row's value is first asked for (one read of the blob costs less than a read per value). Up to 8
 * bytes, the integer the CPU loaded or stored (little-endian), as a register's value is; wider,
 * its bytes.
 */
static int
result_mem_value (Cursor * c, sqlite3_context * context, const Row * row)
{
  Table * t = (Table *) c->base.pVtab;
  Source * s = c->current;
  int rc;
  if (s->values == NULL)
  {
    if (c->values == NULL)
    {
      rc = sqlite3_prepare_v2 (t->db, "SELECT mem_values FROM main.insn_chunk_mem_values WHERE chunk_id = ?1", -1, &c->values, NULL);
      if (rc != SQLITE_OK)
        return fail_db (&t->base, rc);
    }
    sqlite3_bind_int64 (c->values, 1, s->id);
    rc = sqlite3_step (c->values);
    if (rc != SQLITE_ROW)
    {
      sqlite3_reset (c->values);
      return rc == SQLITE_DONE ? damaged (&t->base, s->id) : fail_db (&t->base, rc);
    }
    s->values_len = sqlite3_column_bytes (c->values, 0);
    s->values = sqlite3_malloc (s->values_len + 1);
    if (s->values != NULL && s->values_len > 0)
      memcpy (s->values, sqlite3_column_blob (c->values, 0), s->values_len);
    sqlite3_reset (c->values);
    if (s->values == NULL)
      return SQLITE_NOMEM;
  }
  if (row->layout + row->len > s->values_len)
    return damaged (&t->base, s->id);
  if (row->len <= 8)
  {
    uint64_t value = 0;
    memcpy (&value, s->values + row->layout, row->len);
    sqlite3_result_int64 (context, (sqlite3_int64) value);
    return SQLITE_OK;
  }
  sqlite3_result_blob (context, s->values + row->layout, row->len, SQLITE_TRANSIENT);
  return SQLITE_OK;
}

static int
result_value (Cursor * c, sqlite3_context * context, const Row * row)
{
  switch (row->type)
  {
    case SQLITE_INTEGER:
      sqlite3_result_int64 (context, row->a);
      break;
    case SQLITE_BLOB:
      if (row->bytes == NULL)
        return result_mem_value (c, context, row);
      sqlite3_result_blob (context, row->bytes, row->len, SQLITE_TRANSIENT);
      break;
    default:
      sqlite3_result_null (context);
  }
  return SQLITE_OK;
}

static int
column (sqlite3_vtab_cursor * cursor, sqlite3_context * context, int column)
{
  Cursor * c = (Cursor *) cursor;
  Table * t = (Table *) cursor->pVtab;
  if (c->counts)
  {
    if (column == RW_REG)
      sqlite3_result_text (context, t->shared->names[c->count_reg], -1, SQLITE_STATIC);
    else if (column == RW_THREAD_ID)
      sqlite3_result_int64 (context, c->count_thread);
    else
      return fail (cursor->pVtab, SQLITE_INTERNAL, "reg_writes: a plan that counts was asked for a column it cannot have");
    return SQLITE_OK;
  }
  const Source * s = c->current;
  const Row * row = &s->rows[s->at];
  if (column == 0)
  {
    if (row->no_seq)
      sqlite3_result_null (context);
    else
      sqlite3_result_int64 (context, row->seq);
    return SQLITE_OK;
  }
  switch (t->kind)
  {
    case T_INSNS:
      switch (column)
      {
        case IR_THREAD_ID: sqlite3_result_int64 (context, s->thread); break;
        case IR_ADDRESS: sqlite3_result_int64 (context, row->a); break;
        case IR_LOCATION_ID: sqlite3_result_int64 (context, row->b); break;
        case IR_SIZE: sqlite3_result_int (context, row->d); break;
        case IR_RUN_SEQ: sqlite3_result_int64 (context, row->c); break;
        default: sqlite3_result_int64 (context, row->layout); break;
      }
      break;
    case T_REGS:
      switch (column)
      {
        case RW_REG:
          if (t->shared->names[row->d] != NULL)
            sqlite3_result_text (context, t->shared->names[row->d], -1, SQLITE_STATIC);
          else
            sqlite3_result_null (context);
          break;
        case RW_VALUE: return result_value (c, context, row);
        default: sqlite3_result_int64 (context, s->thread); break;
      }
      break;
    default:
      switch (column)
      {
        case MA_ACCESS: sqlite3_result_text (context, row->write ? "w" : "r", -1, SQLITE_STATIC); break;
        case MA_ADDRESS: sqlite3_result_int64 (context, row->a); break;
        case MA_SIZE: sqlite3_result_int (context, row->d); break;
        case MA_VALUE: return result_value (c, context, row);
        case MA_SYSCALL_ID:
          if (row->kernel)
            sqlite3_result_int64 (context, row->c);
          else
            sqlite3_result_null (context);
          break;
        default: sqlite3_result_int64 (context, row->kernel ? row->b : s->thread); break;
      }
  }
  return SQLITE_OK;
}

#define MODULE(connect_fn) { .xConnect = connect_fn, .xBestIndex = best_index, .xDisconnect = disconnect, .xDestroy = disconnect, \
    .xOpen = open_cursor, .xClose = close_cursor, .xFilter = filter, .xNext = next, .xEof = eof, .xColumn = column, .xRowid = rowid }

/* Eponymous only (no xCreate): the tables exist in every session without CREATE VIRTUAL TABLE. */
static sqlite3_module insns_module = MODULE (insns_connect);
static sqlite3_module regs_module = MODULE (regs_connect);
static sqlite3_module mems_module = MODULE (mems_connect);

static void
free_shared (void * p)
{
  Shared * s = p;
  for (int i = 0; i < REGISTERS; i++)
    sqlite3_free (s->names[i]);
  sqlite3_free (s->layouts);
  sqlite3_free (s->insns_of);
  sqlite3_free (s->mems_of);
  sqlite3_free (s);
}

static int
read_stats (sqlite3 * db, Shared * s)
{
  sqlite3_stmt * stmt;
  int rc = sqlite3_prepare_v2 (db, "SELECT coalesce(sum(insns), 0), count(DISTINCT thread_id) FROM main.insn_chunks", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return rc;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
  {
    s->insns = fmax (sqlite3_column_double (stmt, 0), 1000);
    s->threads = fmax (sqlite3_column_double (stmt, 1), 1);
    rc = SQLITE_OK;
  }
  sqlite3_finalize (stmt);
  return rc;
}

#ifdef _WIN32
__declspec (dllexport)
#endif
int
sqlite3_insntables_init (sqlite3 * db, char ** error, const sqlite3_api_routines * api)
{
  SQLITE_EXTENSION_INIT2 (api);
  Shared * shared = sqlite3_malloc (sizeof (Shared));
  if (shared == NULL)
    return SQLITE_NOMEM;
  memset (shared, 0, sizeof (Shared));
  int rc = read_stats (db, shared);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module_v2 (db, "insn_rows", &insns_module, shared, free_shared);
  else
    free_shared (shared);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module (db, "reg_writes", &regs_module, shared);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module (db, "mem_accesses", &mems_module, shared);
  if (rc != SQLITE_OK)
    *error = sqlite3_mprintf ("%s", sqlite3_errmsg (db));
  return rc;
}
