/* The callouts around a syscall instruction: number, arguments, what they point to, and result. */
#include "emit.h"
#include "memory-reads.h"
#include "syscalls.h"
#include "syscalls.generated.h"

static guint32
reads_of (guint64 nr)
{
  return nr < G_N_ELEMENTS (st_syscall_reads) ? st_syscall_reads[nr] : ST_SYSCALL_READS_NONE;
}

void
st_on_syscall (GumCpuContext * cpu, gpointer user_data)
{
  StSite * site = user_data;
  StRing * ring = site->ring;
  guint64 words[(ST_PAYLOAD_SYSCALL_MEMORY + ST_MEMORY_SPACE (ST_SYSCALL_ARGS)) / 8];
  guint8 * payload = (guint8 *) words;
  guint64 * args = (guint64 *) (payload + ST_PAYLOAD_SYSCALL_ARGS);
  guint64 nr;
  guint32 spec;
  StMemoryReads c;
  guint i;

  if (!ring->recording)
    return;
  nr = st_cpu_syscall_number (cpu);
  st_cpu_syscall_args (cpu, args);
  /* When it was made, so threads' syscalls interleave in time order as strace shows them. */
  *(guint64 *) (payload + ST_PAYLOAD_SYSCALL_TIME_NS) = st_now_ns () - ring->tracer->started_ns;
  spec = reads_of (nr);
  st_memory_begin (&c, payload + ST_PAYLOAD_SYSCALL_MEMORY, payload + sizeof (words));
  for (i = 0; i != ST_SYSCALL_ARGS; i++)
  {
    if ((ST_SYSCALL_READ_STRINGS (spec) & (1 << i)) != 0)
      st_memory_add_string (&c, i, args[i], FALSE);
  }
  for (i = 0; i != 2; i++)
  {
    guint arg = ST_SYSCALL_READ_ENTRY_BUF (spec, i);
    if (arg != ST_SYSCALL_READ_NONE)
      st_memory_add_bytes (&c, arg, args[arg], args[ST_SYSCALL_READ_ENTRY_LEN (spec, i)]);
  }
  ring->pending_syscall = nr;
  ring->pending_obuf_arg = ST_SYSCALL_READ_EXIT_BUF (spec);
  ring->pending_obuf = ring->pending_obuf_arg != ST_SYSCALL_READ_NONE ? args[ring->pending_obuf_arg] : 0;
  st_ring_write (ring, ST_KIND_SYSCALL, site->location, nr, payload, (guint32) (st_memory_end (&c) - payload));
}

void
st_on_sysret (GumCpuContext * cpu, gpointer user_data)
{
  StSite * site = user_data;
  StRing * ring = site->ring;
  guint64 words[(ST_PAYLOAD_SYSRET_MEMORY + ST_MEMORY_SPACE (1)) / 8];
  guint8 * payload = (guint8 *) words;
  gint64 ret;
  StMemoryReads c;

  if (!ring->recording)
    return;
  ret = (gint64) st_cpu_return_value (cpu);
  *(gint64 *) (payload + ST_PAYLOAD_SYSRET_RET) = ret;
  *(guint64 *) (payload + ST_PAYLOAD_SYSRET_RESERVED) = 0;
  st_memory_begin (&c, payload + ST_PAYLOAD_SYSRET_MEMORY, payload + sizeof (words));
  if (ring->pending_obuf_arg != ST_SYSCALL_READ_NONE && ret > 0)
    st_memory_add_bytes (&c, ring->pending_obuf_arg, ring->pending_obuf, (guint64) ret);
  st_ring_write (ring, ST_KIND_SYSRET, site->location, ring->pending_syscall, payload, (guint32) (st_memory_end (&c) - payload));
}
