/* SEC-01 (secrets): environment variables. Dumps environ (WASI environ_get),
 * /proc/self/environ, /proc/1/environ and /proc/<ppid>/environ. The harness puts
 * a token in the runtime's env (never the container's process.env): seeing it
 * here = leaked. Native control: the binary inherits the harness env -> token.
 * Blocked: env not forwarded; pid 1/ppid are the container's own processes. */
#include "common.h"
extern char **environ;

static void dump_proc_env(const char *path) {
  static char buf[65536];
  long n = atk_read_file(path, buf, sizeof buf);
  printf("TRY:%s -> %s\n", path, n >= 0 ? "READ" : atk_errname((int)-n));
  for (long i = 0; i < n; i += strlen(buf + i) + 1) printf("ENV:%s:%s\n", path, buf + i);
}

int main(void) {
  int cnt = 0;
  for (char **e = environ; e && *e; e++, cnt++) printf("ENV:environ:%s\n", *e);
  printf("INFO:environ entries=%d\n", cnt);
  dump_proc_env("/proc/self/environ");
  dump_proc_env("/proc/1/environ");
#ifndef __wasi__
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/environ", (int)getppid());
  dump_proc_env(p);
#endif
  fflush(stdout);
  return cnt > 0 ? ATK_ACHIEVED : ATK_BLOCKED;
}
