/* PRIV-03 (privilege): setuid to root. setuid(0)/setresuid(0,0,0), report
 * NoNewPrivs, and exec an optional harness-built setuid helper (argv[1], may be
 * absent) that prints its euid. Native control (root): setuid(0) works ->
 * reachable. Blocked: EPERM as non-root; NoNewPrivs=1 keeps the euid. WASI: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI has no uid model")
#else
#include <sys/wait.h>
int main(int argc, char **argv) {
  char st[8192];
  if (atk_read_file("/proc/self/status", st, sizeof st) > 0) {
    char *l = strstr(st, "NoNewPrivs:"); if (l) printf("INFO:%.*s\n", (int)strcspn(l, "\n"), l);
  }
  printf("INFO:before uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
  long rc = setuid(0);
  int reach = atk_probe("setuid(0)", rc, errno) && rc == 0;
  rc = setresuid(0, 0, 0);
  reach |= atk_probe("setresuid(0,0,0)", rc, errno) && rc == 0;
  reach = reach && geteuid() == 0;
  printf("INFO:after uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
  if (argc > 1 && access(argv[1], X_OK) == 0) {
    pid_t c = fork();
    if (c == 0) { execl(argv[1], argv[1], (char *)NULL); _exit(127); }
    int s; waitpid(c, &s, 0);
    printf("INFO:helper %s exited %d\n", argv[1], WEXITSTATUS(s));
  }
  return atk_result(reach);
}
#endif
