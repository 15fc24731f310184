/*
 * Frida's agent, stood in for, in an arm64 process that qemu-user runs: there is no ptrace there,
 * so no frida-server can inject one. LD_PRELOAD loads this library, built with a GumJS devkit for
 * arm64. Its constructor runs before the program's own code, like a process Frida spawned and
 * holds: it takes commands from the host on fd 3, sends the script's messages on fd 4, and
 * returns (the program goes on) when the host resumes it. test/arm64/qemu-frida.ts is the host's
 * side and defines the frames; the script the host loads is stalk-trace's own agent.
 *
 * Frame, both ways, little-endian: u32 kind, u32 text length, u32 data length (0xffffffff: no
 * data), the text (UTF-8), the data. Kinds to here: 1 create the script (text: its source),
 * 2 load it, 3 post (text: a JSON message, data), 4 resume, 5 unload. Kinds from here: 1 a
 * message of the script (text: its JSON, data), 2 the oldest command that is not a post is done
 * (text: empty, or why it failed).
 */
#include "frida-gumjs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define COMMAND_FD 3
#define MESSAGE_FD 4
#define NO_DATA 0xffffffffu

enum { CREATE = 1, LOAD, POST, RESUME, UNLOAD };
enum { MESSAGE = 1, DONE };

typedef struct
{
  GumScriptBackend * backend;
  GumScript * script;
  GMainContext * context;
  GMainLoop * loop;
  GMutex lock;
  GCond changed;
  gboolean resumed;
  GMutex write_lock;
} Harness;

static Harness harness;

static void
write_all (const struct iovec * parts, int count)
{
  struct iovec v[3];
  int i = 0;

  memcpy (v, parts, count * sizeof (struct iovec));
  while (i != count)
  {
    ssize_t n = writev (MESSAGE_FD, v + i, count - i);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      _exit (70); /* The host is gone: nothing recorded could reach it any more. */
    while (i != count && (size_t) n >= v[i].iov_len)
      n -= v[i++].iov_len;
    if (i != count)
    {
      v[i].iov_base = (guint8 *) v[i].iov_base + n;
      v[i].iov_len -= n;
    }
  }
}

static void
send_frame (guint32 kind, const gchar * text, GBytes * data)
{
  guint32 header[3];
  struct iovec parts[3];
  gsize data_size = 0;
  gconstpointer bytes = (data != NULL) ? g_bytes_get_data (data, &data_size) : NULL;

  header[0] = kind;
  header[1] = strlen (text);
  header[2] = (data != NULL) ? (guint32) data_size : NO_DATA;
  parts[0].iov_base = header;
  parts[0].iov_len = sizeof (header);
  parts[1].iov_base = (gpointer) text;
  parts[1].iov_len = header[1];
  parts[2].iov_base = (gpointer) bytes;
  parts[2].iov_len = data_size;
  g_mutex_lock (&harness.write_lock);
  write_all (parts, 3);
  g_mutex_unlock (&harness.write_lock);
}

static gboolean
read_all (gpointer into, gsize size)
{
  guint8 * at = into;

  while (size != 0)
  {
    ssize_t n = read (COMMAND_FD, at, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    at += n;
    size -= n;
  }
  return TRUE;
}

static void
on_message (const gchar * message, GBytes * data, gpointer user_data)
{
  send_frame (MESSAGE, message, data);
}

/* A command the loop thread runs, where the script's messages are delivered; the reader waits for it. */
typedef struct
{
  guint32 kind;
  const gchar * text;
  gchar * error;
  gboolean done;
} Command;

static gboolean
run_command (gpointer data)
{
  Command * c = data;
  GError * error = NULL;

  switch (c->kind)
  {
    case CREATE:
      harness.script = gum_script_backend_create_sync (harness.backend, "stalk-trace", c->text, NULL, NULL, &error);
      if (error != NULL)
      {
        c->error = g_strdup (error->message);
        g_error_free (error);
        break;
      }
      gum_script_set_message_handler (harness.script, on_message, NULL, NULL);
      break;
    case LOAD:
      gum_script_load_sync (harness.script, NULL);
      break;
    case UNLOAD:
      /* The script stays allocated: threads may still run code Stalker made for it. */
      gum_script_unload_sync (harness.script, NULL);
      break;
  }
  g_mutex_lock (&harness.lock);
  c->done = TRUE;
  g_cond_broadcast (&harness.changed);
  g_mutex_unlock (&harness.lock);
  return G_SOURCE_REMOVE;
}

static void
run_on_loop (guint32 kind, const gchar * text)
{
  Command c = { kind, text, NULL, FALSE };

  if (harness.script == NULL && kind != CREATE)
  {
    send_frame (DONE, "no script was created", NULL);
    return;
  }
  g_main_context_invoke (harness.context, run_command, &c);
  g_mutex_lock (&harness.lock);
  while (!c.done)
    g_cond_wait (&harness.changed, &harness.lock);
  g_mutex_unlock (&harness.lock);
  send_frame (DONE, (c.error != NULL) ? c.error : "", NULL);
  g_free (c.error);
}

static void
resume (void)
{
  g_mutex_lock (&harness.lock);
  harness.resumed = TRUE;
  g_cond_broadcast (&harness.changed);
  g_mutex_unlock (&harness.lock);
}

static gpointer
read_commands (gpointer unused)
{
  for (;;)
  {
    guint32 header[3];
    gchar * text;
    GBytes * data = NULL;

    if (!read_all (header, sizeof (header)))
      break;
    text = g_malloc (header[1] + 1);
    if (!read_all (text, header[1]))
    {
      g_free (text);
      break;
    }
    text[header[1]] = '\0';
    if (header[2] != NO_DATA)
    {
      gpointer bytes = g_malloc (header[2]);
      if (!read_all (bytes, header[2]))
      {
        g_free (bytes);
        g_free (text);
        break;
      }
      data = g_bytes_new_take (bytes, header[2]);
    }
    switch (header[0])
    {
      case POST:
        if (harness.script != NULL)
          gum_script_post (harness.script, text, data);
        break;
      case RESUME:
        resume ();
        send_frame (DONE, "", NULL);
        break;
      default:
        run_on_loop (header[0], text);
        break;
    }
    g_clear_pointer (&data, g_bytes_unref);
    g_free (text);
  }
  /* The host is gone. A program still held at its start would wait for ever: it goes on. */
  resume ();
  return NULL;
}

static gpointer
run_loop (gpointer unused)
{
  g_main_context_push_thread_default (harness.context);
  g_main_loop_run (harness.loop);
  return NULL;
}

__attribute__ ((constructor)) static void
harness_start (void)
{
  GumModule * self;

  /* The program's own children run without this library, and never see the host's pipes. */
  unsetenv ("LD_PRELOAD");
  fcntl (COMMAND_FD, F_SETFD, FD_CLOEXEC);
  fcntl (MESSAGE_FD, F_SETFD, FD_CLOEXEC);

  gum_init_embedded ();
  /* Like Frida's agent library, this one is Frida's memory: cloaked, so the agent records nothing in it. */
  self = gum_process_find_module_by_address (GUM_ADDRESS (harness_start));
  gum_cloak_add_range (gum_module_get_range (self));
  g_object_unref (self);

  harness.backend = gum_script_backend_obtain_qjs ();
  harness.context = g_main_context_new ();
  harness.loop = g_main_loop_new (harness.context, FALSE);
  g_mutex_init (&harness.lock);
  g_cond_init (&harness.changed);
  g_mutex_init (&harness.write_lock);
  /* GLib threads: Gum cloaks them, as it does Frida's own. */
  g_thread_unref (g_thread_new ("frida-harness-loop", run_loop, NULL));
  g_thread_unref (g_thread_new ("frida-harness-commands", read_commands, NULL));

  g_mutex_lock (&harness.lock);
  while (!harness.resumed)
    g_cond_wait (&harness.changed, &harness.lock);
  g_mutex_unlock (&harness.lock);
}
