/* SEC-04 (secrets): other tenants. argv[1] = pid of a harness-owned "tenant B"
 * process holding the token in its env/cmdline, argv[2] = the canary dir.
 * Tries kill(pid,0), /proc/<pid>/environ + cmdline, a scan of every
 * /proc/<n>/environ for ISOLA* variables, /dev/shm files and traversal
 * <canary_dir>/../<sibling>/canary. Native control: TOKEN from the victim.
 * Blocked: ESRCH/ENOENT (PID/mount/IPC namespaces), ENOTCAPABLE in WASI. */
#include "common.h"
#include <dirent.h>
#ifndef __wasi__
#include <signal.h>
#endif

static int dump_nul(const char *path, const char *filter) {
  static char buf[65536];
  long n = atk_read_file(path, buf, sizeof buf);
  if (n <= 0) return 0;
  int hit = 0;
  for (long i = 0; i < n; i += strlen(buf + i) + 1)
    if (!filter || strstr(buf + i, filter)) { printf("TOKEN:%s:%s\n", path, buf + i); hit = 1; }
  return hit;
}

int main(int argc, char **argv) {
  if (argc < 3) { printf("usage: sec-04 <victim_pid> <canary_dir>\n"); return ATK_INCONCLUSIVE; }
  int leaked = 0;
  char p[4096];
#ifndef __wasi__
  int pid = atoi(argv[1]);
  printf("PROBE:kill(%d,0) -> %s\n", pid, kill(pid, 0) == 0 ? "OK" : atk_errname(errno));
#endif
  snprintf(p, sizeof p, "/proc/%s/environ", argv[1]); leaked |= dump_nul(p, NULL);
  snprintf(p, sizeof p, "/proc/%s/cmdline", argv[1]); leaked |= dump_nul(p, NULL);
  DIR *d = opendir("/proc");
  int scanned = 0;
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) && scanned < 4096)
      if (e->d_name[0] >= '1' && e->d_name[0] <= '9') {
        scanned++;
        snprintf(p, sizeof p, "/proc/%s/environ", e->d_name);
        leaked |= dump_nul(p, "ISOLA");
      }
    closedir(d);
  }
  printf("INFO:/proc scanned=%d\n", scanned);
  if ((d = opendir("/dev/shm"))) {
    struct dirent *e;
    while ((e = readdir(d))) if (e->d_name[0] != '.') {
      snprintf(p, sizeof p, "/dev/shm/%s", e->d_name);
      leaked |= atk_try_read("dev-shm", p);
    }
    closedir(d);
  }
  /* sibling tenant dirs next to ours */
  snprintf(p, sizeof p, "%s/..", argv[2]);
  if ((d = opendir(p))) {
    struct dirent *e;
    while ((e = readdir(d))) if (e->d_name[0] != '.') {
      snprintf(p, sizeof p, "%s/../%s/canary", argv[2], e->d_name);
      leaked |= atk_try_read("sibling", p);
    }
    closedir(d);
  } else printf("TRY:%s -> %s\n", p, atk_errname(errno));
  return leaked ? ATK_ACHIEVED : ATK_BLOCKED;
}
