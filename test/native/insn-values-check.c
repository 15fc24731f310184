/*
 * Prints what st_insn_values (cmodule/insn-values-<arch>.c, linked in) decides for each
 * instruction given in hex on the command line, one line each, for insn-values.test.ts to compare:
 *   mnemonic: what reg|operand bytes [unrecorded] [before] [delta=N] [constant=0xN], ...
 * The first argument is the arch: x64 or arm64 (hex in memory order, so an arm64 word is
 * little-endian). An argument ending in "+flags" asks for writes of the flags register too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "insn-values.h"

static const char * const what_names[] = { "?", "reg", "read", "write" };

int
main (int argc, char ** argv)
{
  csh cs;
  int i;
  cs_err opened;

  if (argc < 2)
    return 2;
  if (strcmp (argv[1], "x64") == 0)
    opened = cs_open (CS_ARCH_X86, CS_MODE_64, &cs);
  else if (strcmp (argv[1], "arm64") == 0)
    opened = cs_open (CS_ARCH_ARM64, CS_MODE_ARM, &cs);
  else
    return 2;
  if (opened != CS_ERR_OK)
    return 2;
  cs_option (cs, CS_OPT_DETAIL, CS_OPT_ON);
  for (i = 2; i < argc; i++)
  {
    uint8_t code[16];
    size_t n = 0;
    int flags = strstr (argv[i], "+flags") != NULL;
    const char * p = argv[i];
    cs_insn * insn;
    StInsnValue values[ST_INSN_MAX_VALUES];
    unsigned count, k;

    while (p[0] != '\0' && p[0] != '+' && n < sizeof (code))
    {
      unsigned byte;
      sscanf (p, "%2x", &byte);
      code[n++] = (uint8_t) byte;
      p += 2;
    }
    if (cs_disasm (cs, code, n, 0x1000, 1, &insn) != 1)
    {
      printf ("undecodable\n");
      continue;
    }
    count = st_insn_values (cs, insn, flags, values);
    printf ("%s:", insn->mnemonic);
    for (k = 0; k != count; k++)
    {
      const StInsnValue * v = &values[k];
      printf ("%s %s", k == 0 ? "" : ",", what_names[v->what]);
      if (v->what == ST_INSN_VALUE_REG)
        printf (" r%u", v->reg);
      else
        printf (" op%d", v->operand);
      printf (" %u", v->bytes);
      if (v->flags & ST_INSN_VALUE_UNRECORDED)
        printf (" unrecorded");
      if (v->before)
        printf (" before");
      if (v->delta != 0)
        printf (" delta=%d", v->delta);
      if (v->has_constant)
        printf (" constant=0x%llx", (unsigned long long) v->constant);
    }
    printf ("\n");
    cs_free (insn, 1);
  }
  cs_close (&cs);
  return 0;
}
