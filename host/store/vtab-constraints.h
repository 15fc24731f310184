/*
 * What the virtual tables of a query session (event-tables.c, insn-tables.c) share: how a failure
 * is reported, and how constraints are pushed to xFilter and narrow a range there. A pushed
 * constraint is two characters in idxStr: what it is on (each table's own letters) and its
 * operator. Included after SQLITE_EXTENSION_INIT1.
 */

#ifndef STALK_TRACE_VTAB_CONSTRAINTS_H
#define STALK_TRACE_VTAB_CONSTRAINTS_H

#include <math.h>
#include <stdint.h>

#define MAX_PUSHED 16

static inline int
fail (sqlite3_vtab * vtab, int rc, const char * message)
{
  sqlite3_free (vtab->zErrMsg);
  vtab->zErrMsg = sqlite3_mprintf ("%s", message);
  return rc;
}

static inline char
operator_code (unsigned char op)
{
  switch (op)
  {
    case SQLITE_INDEX_CONSTRAINT_EQ: return '=';
    case SQLITE_INDEX_CONSTRAINT_GT: return '>';
    case SQLITE_INDEX_CONSTRAINT_GE: return 'G';
    case SQLITE_INDEX_CONSTRAINT_LT: return '<';
    case SQLITE_INDEX_CONSTRAINT_LE: return 'L';
    default: return 0;
  }
}

/* Passes constraint i to xFilter as the next argument, described by `what` and its operator. */
static inline void
push (sqlite3_index_info * info, int i, char what, char op, char * codes, int * count)
{
  info->aConstraintUsage[i].argvIndex = *count + 1;
  codes[2 * *count] = what;
  codes[2 * *count + 1] = op;
  (*count)++;
}

#define EMPTY_LO INT64_MAX
#define EMPTY_HI INT64_MIN

/*
 * Narrows [lo, hi] to the integers x with `x op v`. Only numbers narrow: to SQLite an integer is
 * less than any text or blob, and it checks the constraint again anyway.
 */
static inline void
narrow (sqlite3_value * v, char op, sqlite3_int64 * lo, sqlite3_int64 * hi)
{
  double l = -INFINITY, h = INFINITY;
  if (sqlite3_value_type (v) == SQLITE_INTEGER)
  {
    sqlite3_int64 i = sqlite3_value_int64 (v);
    if ((op == '>' && i == INT64_MAX) || (op == '<' && i == INT64_MIN))
    {
      *lo = EMPTY_LO;
      *hi = EMPTY_HI;
      return;
    }
    if ((op == '=' || op == 'G' || op == '>') && *lo < i + (op == '>'))
      *lo = i + (op == '>');
    if ((op == '=' || op == 'L' || op == '<') && *hi > i - (op == '<'))
      *hi = i - (op == '<');
    return;
  }
  if (sqlite3_value_type (v) != SQLITE_FLOAT)
    return;
  double d = sqlite3_value_double (v);
  switch (op)
  {
    case '=': l = h = (d == floor (d)) ? d : NAN; break;
    case '>': l = floor (d) + 1; break;
    case 'G': l = ceil (d); break;
    case '<': h = ceil (d) - 1; break;
    case 'L': h = floor (d); break;
  }
  /* Beyond +-2^62 a bound excludes everything or nothing. */
  const double edge = 4611686018427387904.0;
  if (isnan (l) || l > edge || h < -edge)
  {
    *lo = EMPTY_LO;
    *hi = EMPTY_HI;
    return;
  }
  if (l > -edge && *lo < (sqlite3_int64) l)
    *lo = (sqlite3_int64) l;
  if (h < edge && *hi > (sqlite3_int64) h)
    *hi = (sqlite3_int64) h;
}

#endif
