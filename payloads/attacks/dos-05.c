/* DOS-05 (resources): fd/handle exhaustion, BOUNDED at 100000 handles.
 * Raises RLIMIT_NOFILE soft->hard, then opens "." (WASI: path_open on the
 * preopen, each one a host fd in the runtime) until EMFILE/ENFILE or the bound;
 * native also pipes and sockets. All closed before exit. Native control: the
 * loop reaches the bound or the process rlimit (>=1000 handles, exit 0).
 * Contained: EMFILE at a low per-sandbox limit / WASI resource limits. */
#include "common.h"
#ifndef __wasi__
#include <sys/resource.h>
#endif
#define BOUND 100000
static int fds[BOUND];
int main(void) {
  int n = 0;
#ifndef __wasi__
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max > BOUND + 64 ? BOUND + 64 : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    printf("FD:rlimit nofile=%llu\n", (unsigned long long)rl.rlim_cur);
  }
#endif
  const char *wd = atk_workdir();
  int err = 0;
  while (n < BOUND) {
    int fd = open(wd, O_RDONLY | O_DIRECTORY);
    if (fd < 0) { err = errno; break; }
    fds[n++] = fd;
  }
  printf("FD:opened %d dir handles (stop: %s)\n", n, n >= BOUND ? "bound" : atk_errname(err)); fflush(stdout);
#ifndef __wasi__
  int extra = 0;
  for (int i = 0; i < 16 && n > 1; i++) close(fds[--n]);
  int p[2];
  while (pipe(p) == 0 && extra < 8) { extra++; }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  printf("FD:pipes=%d socket=%s\n", extra, s >= 0 ? "OK" : atk_errname(errno));
#endif
  int total = n;
  while (n > 0) close(fds[--n]);
  return total >= 1000 ? ATK_ACHIEVED : ATK_BLOCKED;
}
