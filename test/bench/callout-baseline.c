/*
 * The instruction bench's peer, compiled by Frida's CModule inside the target: the approach of
 * sktrace and of QBDI-style tracers on Stalker, a callout before every instruction that reads the
 * CPU context. Each callout copies the instruction's address and five registers into a ring of
 * entries; nothing leaves the process, so this is a floor for that approach, not its full cost.
 * `callouts` and `entries` are memory the script allocates: a CModule's own image is read-only.
 */
#include <gum/gumstalker.h>

#define ENTRY_WORDS 8
#define ENTRY_MASK 65535

extern volatile guint64 callouts;
extern guint64 entries[];

static void
on_insn (GumCpuContext * cpu, gpointer user_data)
{
  guint64 * e = &entries[(callouts++ & ENTRY_MASK) * ENTRY_WORDS];
  e[0] = GPOINTER_TO_SIZE (user_data);
  e[1] = cpu->rax;
  e[2] = cpu->rcx;
  e[3] = cpu->rdx;
  e[4] = cpu->rsi;
  e[5] = cpu->rsp;
}

void
transform (GumStalkerIterator * iterator, GumStalkerOutput * output, gpointer user_data)
{
  const cs_insn * insn;
  while (gum_stalker_iterator_next (iterator, &insn))
  {
    gum_stalker_iterator_put_callout (iterator, on_insn, GSIZE_TO_POINTER (insn->address), NULL);
    gum_stalker_iterator_keep (iterator);
  }
}
