#include "apis.h"
#include "memory-reads.h"

void
st_apis_init (void)
{
  st_globals.api_entries = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, NULL);
  st_globals.return_sites = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, NULL);
  st_globals.api_lock = g_new0 (GMutex, 1);
  g_mutex_init (st_globals.api_lock);
}

void
st_api_add_entries (const StApiEntry * entries, guint n)
{
  guint i;
  g_mutex_lock (st_globals.api_lock);
  for (i = 0; i != n; i++)
    g_hash_table_insert (st_globals.api_entries, GSIZE_TO_POINTER (entries[i].function), GSIZE_TO_POINTER (entries[i].prototype));
  g_mutex_unlock (st_globals.api_lock);
}

static void
remove_range (GHashTable * table, guint64 start, guint64 end)
{
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, NULL))
  {
    if (GPOINTER_TO_SIZE (key) >= start && GPOINTER_TO_SIZE (key) < end)
      g_hash_table_iter_remove (&iter);
  }
}

void
st_api_remove_range (guint64 start, guint64 end)
{
  g_mutex_lock (st_globals.api_lock);
  remove_range (st_globals.api_entries, start, end);
  remove_range (st_globals.return_sites, start, end);
  g_mutex_unlock (st_globals.api_lock);
}

void
st_api_set_app_range (guint64 start, guint64 end)
{
  st_globals.app_start = start;
  st_globals.app_end = end;
}

const StApiProto *
st_api_entry (guint64 address)
{
  const StApiProto * proto;
  g_mutex_lock (st_globals.api_lock);
  proto = g_hash_table_lookup (st_globals.api_entries, GSIZE_TO_POINTER (address));
  g_mutex_unlock (st_globals.api_lock);
  return proto;
}

void
st_api_note_return_site (guint64 address)
{
  g_mutex_lock (st_globals.api_lock);
  g_hash_table_add (st_globals.return_sites, GSIZE_TO_POINTER (address));
  g_mutex_unlock (st_globals.api_lock);
}

gboolean
st_api_is_return_site (guint64 address)
{
  gboolean found;
  g_mutex_lock (st_globals.api_lock);
  found = g_hash_table_contains (st_globals.return_sites, GSIZE_TO_POINTER (address));
  g_mutex_unlock (st_globals.api_lock);
  return found;
}

void
st_on_api_enter (GumCpuContext * cpu, gpointer user_data)
{
  StSite * site = user_data;
  StRing * ring = site->ring;
  const StApiProto * proto = site->proto;
  guint64 words[ST_MAX_PAYLOAD_BYTES / 8];
  guint8 * payload = (guint8 *) words;
  guint64 * args = (guint64 *) (payload + ST_PAYLOAD_APICALL_ARGS);
  guint32 flags = 0;
  guint64 return_address;
  StApiFrame * frame;
  StMemoryReads c;
  guint i;

  if (!ring->recording)
    return;
  return_address = st_cpu_return_address (cpu);
  if (st_globals.app_end != 0 && (return_address < st_globals.app_start || return_address >= st_globals.app_end))
    return;
  st_cpu_call_args (cpu, proto->argc, args);
  frame = st_api_stack_enter (&ring->api, site->location, return_address, st_cpu_sp (cpu));
  if (frame != NULL)
  {
    frame->proto = proto;
    for (i = 0; i != proto->argc; i++)
      frame->args[i] = args[i];
  }
  else
  {
    flags |= ST_APICALL_UNTRACKED;
  }
  *(guint32 *) (payload + ST_PAYLOAD_APICALL_ARGC) = proto->argc;
  *(guint32 *) (payload + ST_PAYLOAD_APICALL_FLAGS) = flags;
  st_memory_begin (&c, (guint8 *) (args + proto->argc), payload + sizeof (words));
  for (i = 0; i != proto->argc; i++)
    st_memory_add_kind (&c, i, proto->entry[i], args[i]);
  st_ring_write (ring, ST_KIND_APICALL, site->location, return_address, payload, (guint32) (st_memory_end (&c) - payload));
}

void
st_on_api_return (GumCpuContext * cpu, gpointer user_data)
{
  StSite * site = user_data;
  StRing * ring = site->ring;
  guint64 words[ST_MAX_PAYLOAD_BYTES / 8];
  guint8 * payload = (guint8 *) words;
  StApiFrame * frame;
  guint64 ret;
  StMemoryReads c;
  guint i;

  frame = st_api_stack_leave (&ring->api, site->location, st_cpu_entry_sp_after_return (cpu));
  if (frame == NULL || !ring->recording)
    return;
  ret = st_cpu_return_value (cpu);
  *(guint64 *) (payload + ST_PAYLOAD_APIRET_RET) = ret;
  *(guint64 *) (payload + ST_PAYLOAD_APIRET_RESERVED) = 0;
  st_memory_begin (&c, payload + ST_PAYLOAD_APIRET_MEMORY, payload + sizeof (words));
  for (i = 0; i != frame->proto->argc; i++)
    st_memory_add_kind (&c, i, frame->proto->exit[i], frame->args[i]);
  st_memory_add_kind (&c, ST_MEMORY_RETURN_ARG, frame->proto->ret, ret);
  st_ring_write (ring, ST_KIND_APIRET, site->location, frame->function, payload, (guint32) (st_memory_end (&c) - payload));
}
