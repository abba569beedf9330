/* PRIV-01 (privilege): fork/exec. fork(); execve("/bin/sh"); copy our own
 * binary to the workdir as a "dropper" and exec it; a daemonised child that
 * outlives main by 1 s (bounded). Native control: all succeed -> reachable.
 * Contained by: noexec/read-only rootfs (EACCES/EROFS), distroless (ENOENT),
 * pids limit (EAGAIN); WASI: no fork/exec (N/E stub). */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("wasi-libc has no fork/exec")
#else
#include <sys/wait.h>
static int run(const char *label, char *const av[]) {
  pid_t c = fork();
  if (c < 0) { printf("PROBE:%s fork -> %s\n", label, atk_errname(errno)); return 0; }
  if (c == 0) { execv(av[0], av); printf("PROBE:%s execv(%s) -> %s\n", label, av[0], atk_errname(errno)); fflush(stdout); _exit(127); }
  int st = 0; waitpid(c, &st, 0);
  int ok = WIFEXITED(st) && WEXITSTATUS(st) == 42;
  printf("PROBE:%s status=%d -> %s\n", label, st, ok ? "reachable" : "blocked");
  return ok;
}
int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--dropped")) { printf("DROPPED:running pid=%d\n", (int)getpid()); return 42; }
  int reach = 0;
  char *sh[] = {"/bin/sh", "-c", "echo SHELL:uid=$(id -u 2>/dev/null); exit 42", NULL};
  reach |= run("exec-bin-sh", sh);
  char drop[600];
  snprintf(drop, sizeof drop, "%s/.isola-priv01-dropper", atk_workdir());
  int in = open("/proc/self/exe", O_RDONLY), out = open(drop, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  char buf[65536]; ssize_t n;
  while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0) if (write(out, buf, n) != n) break;
  printf("INFO:dropper copy -> %s\n", (in >= 0 && out >= 0) ? "OK" : atk_errname(errno));
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  char *dv[] = {drop, "--dropped", NULL};
  reach |= run("exec-dropper", dv);
  unlink(drop);
  pid_t d = fork();
  if (d == 0) { setsid(); if (fork() == 0) { sleep(1); _exit(0); } _exit(0); }
  if (d > 0) { waitpid(d, NULL, 0); printf("INFO:daemon child detached (lives 1 s)\n"); }
  return atk_result(reach);
}
#endif
