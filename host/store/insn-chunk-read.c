/*
 * A chunk's columns (records.json insnChunk) read into rows: every entry's seq and value rebuilt
 * from its deltas, forms and layout, and only the entries a filter lets through kept. Layouts and
 * register names are read once per connection, for every table.
 */

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3

#include "stored-layout.generated.h"
#include "insn-chunk-read.h"

#include <stdlib.h>

int
insn_read_registers (Table * t)
{
  Shared * s = t->shared;
  if (s->registers_read)
    return SQLITE_OK;
  sqlite3_stmt * stmt;
  int rc = sqlite3_prepare_v2 (t->db, "SELECT id, name FROM main.insn_registers", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return fail_db (&t->base, rc);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
  {
    sqlite3_int64 id = sqlite3_column_int64 (stmt, 0);
    if (id < 0 || id >= REGISTERS || s->names[id] != NULL)
      continue;
    s->names[id] = sqlite3_mprintf ("%s", (const char *) sqlite3_column_text (stmt, 1));
    if (s->names[id] == NULL)
      break;
  }
  sqlite3_finalize (stmt);
  if (rc == SQLITE_ROW)
    return SQLITE_NOMEM;
  if (rc != SQLITE_DONE)
    return fail_db (&t->base, rc);
  s->registers_read = 1;
  return SQLITE_OK;
}

static const LayoutRef *
find_layout (const Shared * s, sqlite3_int64 id)
{
  int lo = 0, hi = s->layout_count - 1;
  while (lo <= hi)
  {
    int mid = (lo + hi) / 2;
    if (s->layouts[mid].id == id)
      return &s->layouts[mid];
    if (s->layouts[mid].id < id)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return NULL;
}

/* A layout's memory entries, from its insnlayout payload (records.json insnLayout); 0 where it is malformed. */
static int
read_mem_entries (Shared * s, const uint8_t * p, int bytes, LayoutRef * layout)
{
  StInsnLayoutHeader header;
  if (bytes < (int) sizeof header)
    return 0;
  memcpy (&header, p, sizeof header);
  int at = sizeof header + (header.insn_count + ST_INSN_LENGTHS_ALIGN - 1) / ST_INSN_LENGTHS_ALIGN * ST_INSN_LENGTHS_ALIGN;
  if (at + header.entry_count * (int) sizeof (StInsnLayoutEntry) > bytes)
    return 0;
  layout->mem_first = s->mem_entries;
  layout->mem_count = 0;
  for (int i = 0; i < header.entry_count; i++)
  {
    StInsnLayoutEntry e;
    memcpy (&e, p + at + i * sizeof e, sizeof e);
    if (e.what != ST_INSN_VALUE_MEM_READ && e.what != ST_INSN_VALUE_MEM_WRITE)
      continue;
    s->mems_of[s->mem_entries++] = (MemEntry) { .insn = e.insn, .write = e.what == ST_INSN_VALUE_MEM_WRITE, .bytes = e.bytes,
        .recorded = (e.flags & ST_INSN_VALUE_UNRECORDED) == 0 };
    layout->mem_count++;
  }
  return 1;
}

/*
 * Every layout, read once per connection: its instructions (insn_rows names each instruction of a
 * run from them) and its memory entries (mem_accesses reads a run's accesses by them).
 */
int
insn_read_layouts (Table * t)
{
  Shared * s = t->shared;
  if (s->layouts_read)
    return SQLITE_OK;
  sqlite3_stmt * stmt;
  int rc = sqlite3_prepare_v2 (t->db, "SELECT count(*), coalesce(sum(insn_count), 0), coalesce(sum(length(layout)), 0) FROM main.insn_layouts",
      -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return fail_db (&t->base, rc);
  rc = sqlite3_step (stmt);
  sqlite3_int64 layouts = sqlite3_column_int64 (stmt, 0), insns = sqlite3_column_int64 (stmt, 1), bytes = sqlite3_column_int64 (stmt, 2);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return fail_db (&t->base, rc);
  s->layouts = sqlite3_malloc64 ((layouts + 1) * sizeof (LayoutRef));
  s->insns_of = sqlite3_malloc64 ((insns + 1) * sizeof (LayoutInsn));
  /* No more entries than payload bytes hold. */
  s->mems_of = sqlite3_malloc64 ((bytes / sizeof (StInsnLayoutEntry) + 1) * sizeof (MemEntry));
  if (s->insns_of == NULL || s->layouts == NULL || s->mems_of == NULL)
    return SQLITE_NOMEM;
  memset (s->insns_of, 0, (insns + 1) * sizeof (LayoutInsn));
  rc = sqlite3_prepare_v2 (t->db, "SELECT id, insn_count, layout FROM main.insn_layouts ORDER BY id", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return fail_db (&t->base, rc);
  s->layout_count = 0;
  s->mem_entries = 0;
  sqlite3_int64 first = 0;
  int good = 1;
  while (good && s->layout_count < layouts && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
  {
    LayoutRef * layout = &s->layouts[s->layout_count++];
    layout->id = sqlite3_column_int64 (stmt, 0);
    layout->count = sqlite3_column_int (stmt, 1);
    layout->first = (int) first;
    first += layout->count;
    good = first <= insns && read_mem_entries (s, sqlite3_column_blob (stmt, 2), sqlite3_column_bytes (stmt, 2), layout);
  }
  sqlite3_finalize (stmt);
  if (!good)
    return fail (&t->base, SQLITE_CORRUPT, "the trace database is damaged: an instruction layout cannot be read");
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return fail_db (&t->base, rc);
  rc = sqlite3_prepare_v2 (t->db, "SELECT layout_id, insn, address, size, location_id FROM main.insn_layout_insns", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return fail_db (&t->base, rc);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
  {
    const LayoutRef * layout = find_layout (s, sqlite3_column_int64 (stmt, 0));
    int insn = sqlite3_column_int (stmt, 1);
    if (layout == NULL || insn < 0 || insn >= layout->count)
      continue;
    s->insns_of[layout->first + insn] = (LayoutInsn) { .address = sqlite3_column_int64 (stmt, 2), .size = sqlite3_column_int (stmt, 3),
        .location = sqlite3_column_int64 (stmt, 4) };
  }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return fail_db (&t->base, rc);
  s->layouts_read = 1;
  return SQLITE_OK;
}

static inline uint64_t
varint (Reader * r)
{
  /* Most are one or two bytes: deltas of a loop's addresses, seqs and layout ids. */
  const uint8_t * p = r->p;
  if (r->end - p >= 2)
  {
    if (p[0] < 0x80)
    {
      r->p = p + 1;
      return p[0];
    }
    if (p[1] < 0x80)
    {
      r->p = p + 2;
      return (p[0] & 0x7f) | ((uint64_t) p[1] << 7);
    }
  }
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7)
  {
    if (r->p >= r->end)
    {
      r->bad = 1;
      return 0;
    }
    uint8_t b = *r->p++;
    v |= (uint64_t) (b & 0x7f) << shift;
    if ((b & 0x80) == 0)
      return v;
  }
  r->bad = 1;
  return 0;
}

static uint8_t
byte (Reader * r)
{
  if (r->p >= r->end)
  {
    r->bad = 1;
    return 0;
  }
  return *r->p++;
}

static const uint8_t *
take (Reader * r, uint64_t n)
{
  if ((uint64_t) (r->end - r->p) < n)
  {
    r->bad = 1;
    return NULL;
  }
  const uint8_t * at = r->p;
  r->p += n;
  return at;
}

static uint64_t
unzigzag (uint64_t z)
{
  return (z >> 1) ^ (0 - (z & 1));
}

void
insn_free_source (Source * s)
{
  if (s == NULL)
    return;
  sqlite3_free (s->data);
  sqlite3_free (s->rows);
  sqlite3_free (s->values);
  sqlite3_free (s);
}

Row *
insn_add_row (Source * s)
{
  if (s->count == s->capacity)
  {
    int capacity = s->capacity == 0 ? 1024 : s->capacity * 2;
    Row * rows = sqlite3_realloc64 (s->rows, (sqlite3_uint64) capacity * sizeof (Row));
    if (rows == NULL)
      return NULL;
    s->rows = rows;
    s->capacity = capacity;
  }
  Row * row = &s->rows[s->count++];
  memset (row, 0, sizeof (Row));
  return row;
}

/* insn_rows: each run's instructions, from the layouts. */
int
insn_decode_runs (const Shared * shared, Source * s, Reader * r, sqlite3_int64 first_seq, const Filter * f)
{
  sqlite3_int64 end = first_seq, ordinal = 0;
  const LayoutRef * layout = NULL;
  while (r->p < r->end && !r->bad)
  {
    sqlite3_int64 run = end + (sqlite3_int64) varint (r);
    sqlite3_int64 id = (sqlite3_int64) varint (r);
    if (r->bad)
      break;
    if (layout == NULL || layout->id != id)
      layout = find_layout (shared, id);
    if (layout == NULL)
      return SQLITE_CORRUPT;
    end = run + layout->count;
    if (run > f->seq_hi)
      break;
    for (int i = 0; i < layout->count; i++, ordinal++)
    {
      if (!in_seq (f, run + i))
        continue;
      const LayoutInsn * insn = &shared->insns_of[layout->first + i];
      Row * row = insn_add_row (s);
      if (row == NULL)
        return SQLITE_NOMEM;
      row->seq = run + i;
      row->a = insn->address;
      row->b = insn->location;
      row->c = run;
      row->layout = id;
      row->d = insn->size;
      row->ordinal = ordinal;
    }
  }
  return r->bad ? SQLITE_CORRUPT : SQLITE_OK;
}

/* reg_writes: each value rebuilt from its form. */
int
insn_decode_regs (Source * s, Reader * r, sqlite3_int64 first_seq, const Filter * f)
{
  uint64_t previous[REGISTERS] = { 0 };
  uint64_t last = 0;
  sqlite3_int64 seq = first_seq, ordinal = 0;
  for (; r->p < r->end && !r->bad; ordinal++)
  {
    seq += (sqlite3_int64) varint (r);
    int reg = byte (r);
    int form = byte (r);
    int type = SQLITE_INTEGER;
    uint64_t value = 0;
    const uint8_t * bytes = NULL;
    uint64_t len = 0;
    switch (form)
    {
      case ST_INSN_FORM_UNRECORDED:
        type = SQLITE_NULL;
        break;
      case ST_INSN_FORM_DELTA:
        value = previous[reg] + unzigzag (varint (r));
        break;
      case ST_INSN_FORM_COPY:
        value = last;
        break;
      case ST_INSN_FORM_RAW:
      {
        const uint8_t * raw = take (r, 8);
        if (raw != NULL)
          memcpy (&value, raw, 8);
        break;
      }
      case ST_INSN_FORM_BYTES:
        type = SQLITE_BLOB;
        len = varint (r);
        bytes = take (r, len);
        break;
      default:
        r->bad = 1;
    }
    if (r->bad || len > INT32_MAX)
    {
      r->bad = 1;
      break;
    }
    if (type == SQLITE_INTEGER)
      previous[reg] = last = value;
    if (seq > f->seq_hi)
      break;
    if (!in_seq (f, seq) || (f->reg >= 0 && reg != f->reg))
      continue;
    if (f->value_type == SQLITE_INTEGER && (type != SQLITE_INTEGER || (sqlite3_int64) value != f->value_int))
      continue;
    if (f->value_type == SQLITE_BLOB && (type != SQLITE_BLOB || (int) len != f->value_len || memcmp (bytes, f->value_blob, len) != 0))
      continue;
    Row * row = insn_add_row (s);
    if (row == NULL)
      return SQLITE_NOMEM;
    row->seq = seq;
    row->d = reg;
    row->type = type;
    row->a = (sqlite3_int64) value;
    row->bytes = bytes;
    row->len = (int) len;
    row->ordinal = ordinal;
  }
  return r->bad ? SQLITE_CORRUPT : SQLITE_OK;
}

static int
compare_rows (const void * a, const void * b)
{
  const Row * x = a, * y = b;
  if (x->seq != y->seq)
    return x->seq < y->seq ? -1 : 1;
  return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal;
}

/*
 * mem_accesses: the instructions' own accesses, each run's by its layout's memory entries. `r`
 * reads the chunk's runs, `m` its mems; values stay in mem_values until a row's is asked for.
 */
int
insn_decode_mems (const Shared * shared, Source * s, Reader * r, Reader * m, sqlite3_int64 first_seq, const Filter * f)
{
  /* Each layout memory entry's previous address in the chunk. */
  uint64_t * previous = sqlite3_malloc64 ((shared->mem_entries + 1) * sizeof (uint64_t));
  if (previous == NULL)
    return SQLITE_NOMEM;
  memset (previous, 0, (shared->mem_entries + 1) * sizeof (uint64_t));
  sqlite3_int64 end = first_seq, ordinal = 0, offset = 0;
  int sorted = 1, rc = SQLITE_OK;
  const LayoutRef * layout = NULL;
  /*
   * The readers and the filter in locals: stores of addresses into `previous` might otherwise
   * alias them (the filter's bounds are 64-bit integers too), and each entry would reload them.
   */
  Reader runs = *r, mems = *m;
  const Filter k = *f;
  while (runs.p < runs.end && !runs.bad && !mems.bad && rc == SQLITE_OK)
  {
    sqlite3_int64 run = end + (sqlite3_int64) varint (&runs);
    sqlite3_int64 id = (sqlite3_int64) varint (&runs);
    /* Runs of one layout follow each other in a loop: look it up only when it changes. */
    if (layout == NULL || layout->id != id)
      layout = find_layout (shared, id);
    if (runs.bad || layout == NULL)
    {
      runs.bad = 1;
      break;
    }
    end = run + layout->count;
    if (run > k.seq_hi)
      break;
    const MemEntry * entries = &shared->mems_of[layout->mem_first];
    uint64_t * last = &previous[layout->mem_first];
    for (int i = 0; i < layout->mem_count && !mems.bad; i++, ordinal++)
    {
      const MemEntry * e = &entries[i];
      uint64_t address = last[i] += unzigzag (varint (&mems));
      sqlite3_int64 at = offset;
      if (e->recorded)
        offset += e->bytes;
      sqlite3_int64 seq = run + e->insn;
      if (!in_seq (&k, seq) || (k.access >= 0 && e->write != k.access) || (sqlite3_int64) address < k.address_lo ||
          (sqlite3_int64) address > k.address_hi)
        continue;
      Row * row = insn_add_row (s);
      if (row == NULL)
      {
        rc = SQLITE_NOMEM;
        break;
      }
      if (s->count > 1 && seq < s->rows[s->count - 2].seq)
        sorted = 0;
      row->seq = seq;
      row->a = (sqlite3_int64) address;
      row->d = e->bytes;
      row->write = e->write;
      row->type = e->recorded ? SQLITE_BLOB : SQLITE_NULL;
      row->layout = at;
      row->len = e->bytes;
      row->ordinal = ordinal;
    }
  }
  sqlite3_free (previous);
  *r = runs;
  *m = mems;
  if (rc != SQLITE_OK)
    return rc;
  if (r->bad || m->bad)
    return SQLITE_CORRUPT;
  /* A layout whose entries are not in instruction order: rows in seq order, each instruction's in entry order. */
  if (!sorted)
    qsort (s->rows, s->count, sizeof (Row), compare_rows);
  return SQLITE_OK;
}

