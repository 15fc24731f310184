/* The callouts around a syscall instruction; user_data is the thread's StSite there. */
#ifndef STALK_TRACE_SYSCALLS_H
#define STALK_TRACE_SYSCALLS_H

#include "emit.h"

void st_on_syscall (GumCpuContext * cpu, gpointer user_data);
void st_on_sysret (GumCpuContext * cpu, gpointer user_data);

#endif
