/*
 * The in-target helpers --apis and syscall records rely on, run natively: reading what an
 * argument points to without faulting (memory-reads.c), and pairing library calls with their
 * returns (api-stack.c). Prints each failed check to stderr and exits 1 if any failed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "api-stack.h"
#include "memory-reads.h"

static int failures;

#define CHECK(cond) \
  do { if (!(cond)) { fprintf (stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

typedef struct
{
  unsigned arg, flags, length;
  const uint8_t * bytes;
} Entry;

/* The n-th entry of a memory-read block, read back by the layout in records.json. */
static Entry
entry_at (const uint8_t * block, unsigned n)
{
  const uint8_t * p = block + ST_MEMORY_HEADER_SIZE;
  Entry e;
  for (;;)
  {
    const StMemoryEntry * entry = (const StMemoryEntry *) p;
    e.arg = entry->arg;
    e.flags = entry->flags;
    e.length = entry->length;
    e.bytes = p + ST_MEMORY_ENTRY_SIZE;
    if (n-- == 0)
      return e;
    p = e.bytes + (e.length + ST_MEMORY_ENTRY_ALIGN - 1) / ST_MEMORY_ENTRY_ALIGN * ST_MEMORY_ENTRY_ALIGN;
  }
}

static uint32_t
count_of (const uint8_t * block)
{
  return ((const StMemoryHeader *) block)->count;
}

static void
check_memory_reads (void)
{
  long page = sysconf (_SC_PAGESIZE);
  uint8_t * pages = mmap (NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint8_t * edge = pages + page - 10;
  static uint64_t words[ST_MAX_PAYLOAD_BYTES / 8];
  uint8_t * block = (uint8_t *) words;
  char longer[600];
  uint32_t wide[3] = { 'h', 0xe9, 0 };
  uint64_t number = 0x1122334455667788ULL;
  StMemoryReads c;
  Entry e;

  memset (edge, 'x', 10);
  mprotect (pages + page, page, PROT_NONE);
  memset (longer, 'y', sizeof (longer) - 1);
  longer[sizeof (longer) - 1] = 0;

  st_memory_begin (&c, block, block + sizeof (words));
  st_memory_add_string (&c, 0, (uint64_t) (uintptr_t) "hello", 0);
  st_memory_add_string (&c, 1, (uint64_t) (uintptr_t) edge, 0);
  st_memory_add_string (&c, 2, (uint64_t) (uintptr_t) (pages + page), 0);
  st_memory_add_string (&c, 3, 0, 0);
  st_memory_add_string (&c, 4, (uint64_t) (uintptr_t) longer, 0);
  st_memory_add_string (&c, 5, (uint64_t) (uintptr_t) wide, 1);
  st_memory_add_kind (&c, 6, ST_ARG_BYTES4, (uint64_t) (uintptr_t) &number);
  st_memory_add_kind (&c, 7, ST_ARG_BYTES8, (uint64_t) (uintptr_t) &number);
  st_memory_add_bytes (&c, 8, (uint64_t) (uintptr_t) edge, 100);
  st_memory_add_kind (&c, 9, ST_ARG_NONE, (uint64_t) (uintptr_t) "ignored");
  st_memory_end (&c);

  CHECK (count_of (block) == 9);
  e = entry_at (block, 0);
  CHECK (e.arg == 0 && e.flags == 0 && e.length == 5 && memcmp (e.bytes, "hello", 5) == 0);
  /* No terminator before the unreadable page: what was readable, marked truncated. */
  e = entry_at (block, 1);
  CHECK (e.arg == 1 && e.flags == ST_MEMORY_TRUNCATED && e.length == 10);
  e = entry_at (block, 2);
  CHECK (e.arg == 2 && e.flags == ST_MEMORY_UNREADABLE && e.length == 0);
  e = entry_at (block, 3);
  CHECK (e.arg == 3 && e.flags == ST_MEMORY_UNREADABLE && e.length == 0);
  e = entry_at (block, 4);
  CHECK (e.arg == 4 && e.flags == ST_MEMORY_TRUNCATED && e.length == ST_MEMORY_MAX_BYTES);
  e = entry_at (block, 5);
  CHECK (e.arg == 5 && e.flags == ST_MEMORY_UTF32 && e.length == 8 && memcmp (e.bytes, wide, 8) == 0);
  e = entry_at (block, 6);
  CHECK (e.arg == 6 && e.flags == ST_MEMORY_BYTES && e.length == 4 && memcmp (e.bytes, &number, 4) == 0);
  e = entry_at (block, 7);
  CHECK (e.arg == 7 && e.flags == ST_MEMORY_BYTES && e.length == 8 && memcmp (e.bytes, &number, 8) == 0);
  e = entry_at (block, 8);
  CHECK (e.arg == 8 && e.flags == (ST_MEMORY_BYTES | ST_MEMORY_TRUNCATED) && e.length == 10);

  /* A payload with room for one entry and a few bytes: the entry is cut, the next one left out. */
  st_memory_begin (&c, block, block + ST_MEMORY_HEADER_SIZE + ST_MEMORY_ENTRY_SIZE + 3 + 8);
  st_memory_add_string (&c, 0, (uint64_t) (uintptr_t) "a longer string", 0);
  st_memory_add_string (&c, 1, (uint64_t) (uintptr_t) "more", 0);
  CHECK (st_memory_end (&c) <= block + ST_MEMORY_HEADER_SIZE + ST_MEMORY_ENTRY_SIZE + 3 + 8);
  CHECK (count_of (block) == 1);
  e = entry_at (block, 0);
  CHECK (e.flags == ST_MEMORY_TRUNCATED && e.length == 8 && memcmp (e.bytes, "a longer", 8) == 0);

  munmap (pages, 2 * page);
}

static void
check_api_stack (void)
{
  static StApiStack s;
  StApiFrame * f;
  int i;

  /* A call from 0x1005 into f at 0x9000 with the stack at 0x7000, and its return. */
  f = st_api_stack_enter (&s, 0x9000, 0x1005, 0x7000);
  CHECK (f != NULL && s.depth == 1 && s.return_not == ~(uint64_t) 0x1005);
  CHECK (st_api_stack_leave (&s, 0x2000, 0x7000) == NULL && s.depth == 1);
  f = st_api_stack_leave (&s, 0x1005, 0x7000);
  CHECK (f != NULL && f->function == 0x9000 && s.depth == 0 && s.return_not == 0);

  /* Recursion through a callback: the same return address twice; the inner one returns first. */
  st_api_stack_enter (&s, 0x9000, 0x1005, 0x7000);
  st_api_stack_enter (&s, 0x9100, 0x3005, 0x6800);
  st_api_stack_enter (&s, 0x9000, 0x1005, 0x6000);
  CHECK (s.depth == 3);
  CHECK (st_api_stack_leave (&s, 0x1005, 0x7000) != NULL && s.depth == 0);
  st_api_stack_enter (&s, 0x9000, 0x1005, 0x7000);
  st_api_stack_enter (&s, 0x9000, 0x1005, 0x6000);
  f = st_api_stack_leave (&s, 0x1005, 0x6000);
  CHECK (f != NULL && f->entry_sp == 0x6000 && s.depth == 1 && s.return_not == ~(uint64_t) 0x1005);
  f = st_api_stack_leave (&s, 0x1005, 0x7000);
  CHECK (f != NULL && f->entry_sp == 0x7000 && s.depth == 0);

  /* A call left without a return (longjmp): the next call at or above its stack drops it. */
  st_api_stack_enter (&s, 0x9000, 0x1005, 0x7000);
  st_api_stack_enter (&s, 0x9100, 0x1105, 0x6000);
  st_api_stack_enter (&s, 0x9200, 0x1205, 0x6000);
  CHECK (s.depth == 2 && s.frames[1].function == 0x9200);
  st_api_stack_enter (&s, 0x9300, 0x1305, 0x7100);
  CHECK (s.depth == 1 && s.frames[0].function == 0x9300);
  s.depth = 0;

  /* Full: the call is not tracked, and what is tracked stays intact. */
  for (i = 0; i != ST_API_DEPTH; i++)
    CHECK (st_api_stack_enter (&s, 0x9000 + i, 0x1000 + i, 0x8000 - 0x100 * i) != NULL);
  CHECK (st_api_stack_enter (&s, 0xa000, 0x2000, 0x100) == NULL);
  CHECK (s.depth == ST_API_DEPTH && s.return_not == ~(uint64_t) (0x1000 + ST_API_DEPTH - 1));
}

int
main (void)
{
  check_memory_reads ();
  check_api_stack ();
  if (failures == 0)
    printf ("all checks passed\n");
  return failures == 0 ? 0 : 1;
}
