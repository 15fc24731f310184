/*
 * Memory an argument points to, read in the target without faulting and written into a record
 * payload in the memory layout (schemas/records.json): strings up to their terminator,
 * buffers up to their length, both at most ST_MEMORY_MAX_BYTES.
 */
#ifndef STALK_TRACE_MEMORY_READS_H
#define STALK_TRACE_MEMORY_READS_H

#include "layout.generated.h"
#include "platform.h"

typedef struct _StMemoryReads StMemoryReads;
struct _StMemoryReads
{
  uint8_t * start;
  uint8_t * at;
  /* Nothing is written past this: an entry that does not fit whole is cut (and marked truncated). */
  uint8_t * end;
  uint32_t count;
};

/* Room for n memory reads whole. */
#define ST_MEMORY_SPACE(n) (ST_MEMORY_HEADER_SIZE + (n) * (ST_MEMORY_ENTRY_SIZE + ST_MEMORY_MAX_BYTES))

void st_memory_begin (StMemoryReads * c, uint8_t * at, uint8_t * end);
/* A NUL-terminated string; wide: 4-byte characters, as wchar_t is on Linux and Android. */
void st_memory_add_string (StMemoryReads * c, unsigned arg, uint64_t address, int wide);
void st_memory_add_bytes (StMemoryReads * c, unsigned arg, uint64_t address, uint64_t length);
/* What an argument of capture kind `kind` (ST_ARG_*) points to; nothing for ST_ARG_NONE. */
void st_memory_add_kind (StMemoryReads * c, unsigned arg, unsigned kind, uint64_t address);
/* Finishes the block; returns the end of what was written. */
uint8_t * st_memory_end (StMemoryReads * c);

#endif
