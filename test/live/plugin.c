/* The library dlopen.c loads after it starts (plugin_leaf is static: called directly, not through the PLT). */
static __attribute__ ((noinline)) int plugin_leaf (int x) { __asm__ volatile ("" ::: "memory"); return x ^ 5; }
int plugin_entry (int n) { int i, s = 0; for (i = 0; i != n; i++) s += plugin_leaf (i); return s; }
