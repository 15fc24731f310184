#include "memory-reads.h"

void
st_memory_begin (StMemoryReads * c, uint8_t * at, uint8_t * end)
{
  c->start = at;
  c->at = at + ST_MEMORY_HEADER_SIZE;
  c->end = end;
  c->count = 0;
}

/* Bytes an entry here can hold: what is left of the payload, padding included, at most `want`. */
static uint32_t
room (StMemoryReads * c, uint32_t want)
{
  uint32_t left;
  if (c->at + ST_MEMORY_ENTRY_SIZE > c->end)
    return 0;
  left = (uint32_t) (c->end - c->at - ST_MEMORY_ENTRY_SIZE) / ST_MEMORY_ENTRY_ALIGN * ST_MEMORY_ENTRY_ALIGN;
  return want < left ? want : left;
}

/* Closes the entry whose `length` bytes were read into place after its header. */
static void
add (StMemoryReads * c, unsigned arg, unsigned flags, uint32_t length)
{
  StMemoryEntry * entry = (StMemoryEntry *) c->at;
  uint8_t * bytes = c->at + ST_MEMORY_ENTRY_SIZE;
  uint32_t i;

  if (c->at + ST_MEMORY_ENTRY_SIZE > c->end)
    return;
  entry->arg = (uint8_t) arg;
  entry->flags = (uint8_t) flags;
  entry->length = (uint16_t) length;
  entry->reserved = 0;
  for (i = length; i % ST_MEMORY_ENTRY_ALIGN != 0; i++)
    bytes[i] = 0;
  c->at = bytes + i;
  c->count++;
}

void
st_memory_add_string (StMemoryReads * c, unsigned arg, uint64_t address, int wide)
{
  uint32_t unit = wide ? 4 : 1;
  uint32_t want = room (c, ST_MEMORY_MAX_BYTES);
  uint8_t * bytes = c->at + ST_MEMORY_ENTRY_SIZE;
  uint32_t n = address == 0 || want == 0 ? 0 : st_read_memory (address, bytes, want);
  uint32_t length = 0;
  unsigned flags = wide ? ST_MEMORY_UTF32 : 0;

  if (n == 0)
  {
    add (c, arg, flags | (want == 0 ? ST_MEMORY_TRUNCATED : ST_MEMORY_UNREADABLE), 0);
    return;
  }
  /* Up to the terminator; a string that runs past what could be read is marked truncated. */
  while (length + unit <= n)
  {
    uint32_t k;
    int zero = 1;
    for (k = 0; k != unit; k++)
      zero = zero && bytes[length + k] == 0;
    if (zero)
      break;
    length += unit;
  }
  if (length + unit > n)
    flags |= ST_MEMORY_TRUNCATED;
  add (c, arg, flags, length);
}

void
st_memory_add_bytes (StMemoryReads * c, unsigned arg, uint64_t address, uint64_t length)
{
  uint32_t want = room (c, length > ST_MEMORY_MAX_BYTES ? ST_MEMORY_MAX_BYTES : (uint32_t) length);
  uint32_t n;
  unsigned flags = ST_MEMORY_BYTES;

  if (length == 0)
  {
    add (c, arg, flags, 0);
    return;
  }
  n = address == 0 || want == 0 ? 0 : st_read_memory (address, c->at + ST_MEMORY_ENTRY_SIZE, want);
  if (n == 0 && want != 0)
  {
    add (c, arg, flags | ST_MEMORY_UNREADABLE, 0);
    return;
  }
  if (n < length)
    flags |= ST_MEMORY_TRUNCATED;
  add (c, arg, flags, n);
}

void
st_memory_add_kind (StMemoryReads * c, unsigned arg, unsigned kind, uint64_t address)
{
  switch (kind)
  {
    case ST_ARG_STRING: st_memory_add_string (c, arg, address, 0); break;
    case ST_ARG_WSTRING: st_memory_add_string (c, arg, address, 1); break;
    case ST_ARG_BYTES4: st_memory_add_bytes (c, arg, address, 4); break;
    case ST_ARG_BYTES8: st_memory_add_bytes (c, arg, address, 8); break;
    case ST_ARG_SOCKADDR: st_memory_add_bytes (c, arg, address, ST_SOCKADDR_BYTES); break;
    default: break;
  }
}

uint8_t *
st_memory_end (StMemoryReads * c)
{
  StMemoryHeader * header = (StMemoryHeader *) c->start;
  header->count = c->count;
  header->reserved = 0;
  return c->at;
}
