#include "api-stack.h"

static void
publish (StApiStack * s)
{
  s->return_not = s->depth == 0 ? 0 : ~s->frames[s->depth - 1].return_address;
}

StApiFrame *
st_api_stack_enter (StApiStack * s, uint64_t function, uint64_t return_address, uint64_t entry_sp)
{
  StApiFrame * f;

  /* The stack grows down: a frame entered at or below this stack pointer is gone. */
  while (s->depth != 0 && s->frames[s->depth - 1].entry_sp <= entry_sp)
    s->depth--;
  if (s->depth == ST_API_DEPTH)
  {
    publish (s);
    return 0;
  }
  f = &s->frames[s->depth++];
  f->function = function;
  f->return_address = return_address;
  f->entry_sp = entry_sp;
  f->proto = 0;
  publish (s);
  return f;
}

StApiFrame *
st_api_stack_leave (StApiStack * s, uint64_t site, uint64_t entry_sp)
{
  StApiFrame * f;

  /* Deeper frames than the one returning here were left without a return. */
  while (s->depth != 0 && s->frames[s->depth - 1].entry_sp < entry_sp)
    s->depth--;
  f = s->depth == 0 ? 0 : &s->frames[s->depth - 1];
  if (f != 0 && (f->return_address != site || f->entry_sp != entry_sp))
    f = 0;
  if (f != 0)
    s->depth--;
  publish (s);
  return f;
}
