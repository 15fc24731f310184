/*
 * What the instruction tables (insn-tables.c) know of a chunk, and how its columns become rows
 * (insn-chunk-read.c): the layouts and register names read once per connection, the rows a
 * chunk's entries make, the filters they are read through.
 */

#ifndef STALK_TRACE_INSN_CHUNK_READ_H
#define STALK_TRACE_INSN_CHUNK_READ_H

#include "sqlite3ext.h"
#include "vtab-constraints.h"

#include <stdint.h>

enum { T_INSNS, T_REGS, T_MEMS };


/* Register ids are one byte. */
#define REGISTERS 256

typedef struct
{
  sqlite3_int64 address;
  sqlite3_int64 location;
  int size;
} LayoutInsn;

/* A memory entry of a layout, as its insnlayout record describes it. */
typedef struct
{
  int insn;
  int write;
  int bytes;
  int recorded;
} MemEntry;

typedef struct
{
  sqlite3_int64 id;
  int first;
  int count;
  /* Its memory entries, in layout order: mems_of[mem_first ...]. */
  int mem_first;
  int mem_count;
} LayoutRef;

/* What every table of a connection shares: totals for the planner, layouts and register names once read. */
typedef struct
{
  double insns;
  double threads;
  int layouts_read;
  LayoutRef * layouts;
  int layout_count;
  LayoutInsn * insns_of;
  MemEntry * mems_of;
  int mem_entries;
  int registers_read;
  char * names[REGISTERS];
} Shared;

typedef struct
{
  sqlite3_vtab base;
  sqlite3 * db;
  Shared * shared;
  int kind;
} Table;

typedef struct
{
  sqlite3_int64 seq;
  /* insn_rows: address; reg_writes: the integer value; mem_accesses: address. */
  sqlite3_int64 a;
  /* insn_rows: location_id; mem_accesses: a kernel write's thread. */
  sqlite3_int64 b;
  /* insn_rows: run_seq; mem_accesses: syscall_id of a kernel write. */
  sqlite3_int64 c;
  /* insn_rows: layout id; mem_accesses: where a recorded value is in its chunk's mem_values. */
  sqlite3_int64 layout;
  /* The entry's index in its chunk's column (a kernel write's id): with the chunk, the rowid. */
  sqlite3_int64 ordinal;
  /* A vector register's or a kernel write's bytes (an instruction's memory value is read when asked for). */
  const uint8_t * bytes;
  int len;
  /* insn_rows and mem_accesses: size; reg_writes: register id. */
  int d;
  /* The value's SQLite type: INTEGER, BLOB or NULL. */
  int type;
  char write;
  char kernel;
  char no_seq;
} Row;

/* A decoded chunk (or the kernel writes): its matching rows, in seq order. */
typedef struct
{
  sqlite3_int64 id;
  sqlite3_int64 thread;
  uint8_t * data;
  Row * rows;
  int count;
  int capacity;
  int at;
  /* mem_accesses: the chunk's mem_values, read whole when a row's value is first asked for. */
  uint8_t * values;
  int values_len;
} Source;

typedef struct
{
  sqlite3_int64 seq_lo, seq_hi;
  sqlite3_int64 thread_lo, thread_hi;
  sqlite3_int64 address_lo, address_hi;
  int reg;
  int access;
  int value_type;
  sqlite3_int64 value_int;
  uint8_t * value_blob;
  int value_len;
} Filter;

/* A column's bytes, bounds checked: a read past the end marks it damaged. */
typedef struct
{
  const uint8_t * p;
  const uint8_t * end;
  int bad;
} Reader;

static inline int
fail_db (sqlite3_vtab * vtab, int rc)
{
  return fail (vtab, rc, sqlite3_errmsg (((Table *) vtab)->db));
}

static inline int
damaged (sqlite3_vtab * vtab, sqlite3_int64 chunk)
{
  char * message = sqlite3_mprintf ("the trace database is damaged: instruction chunk %lld cannot be read", chunk);
  int rc = fail (vtab, SQLITE_CORRUPT, message);
  sqlite3_free (message);
  return rc;
}

static inline int
in_seq (const Filter * f, sqlite3_int64 seq)
{
  return seq >= f->seq_lo && seq <= f->seq_hi;
}

int insn_read_registers (Table * t);
int insn_read_layouts (Table * t);
void insn_free_source (Source * s);
Row * insn_add_row (Source * s);
/*
 * A chunk's rows that the filter lets through, from its columns. They touch neither the
 * connection nor the table (a cursor's read-ahead thread runs them): damaged columns are
 * SQLITE_CORRUPT, for the caller to report.
 */
int insn_decode_runs (const Shared * shared, Source * s, Reader * r, sqlite3_int64 first_seq, const Filter * f);
int insn_decode_regs (Source * s, Reader * r, sqlite3_int64 first_seq, const Filter * f);
int insn_decode_mems (const Shared * shared, Source * s, Reader * r, Reader * m, sqlite3_int64 first_seq, const Filter * f);

#endif
