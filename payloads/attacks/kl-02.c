/* KL-02 (kernel-info): host topology. Prints what the process can learn about
 * the host (mountinfo upperdir/host paths, cgroup, kernel release, CPU model,
 * MemTotal, network interfaces, DMI) and probes the masked paths /proc/kcore,
 * /proc/keys, /proc/timer_list, /proc/sched_debug, /sys/firmware.
 * RESULT:reachable = a masked path was readable (native control: yes).
 * Blocked: masked paths are /dev/null binds or absent. WASI: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI exposes no host topology (only clocks/random)")
#else
#include <dirent.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
static void grep_file(const char *path, const char *needle, int max) {
  FILE *f = fopen(path, "r");
  char l[1024];
  if (!f) { printf("LEAK:%s -> %s\n", path, atk_errname(errno)); return; }
  while (max > 0 && fgets(l, sizeof l, f))
    if (!needle || strstr(l, needle)) { printf("LEAK:%s:%s", path, l); max--; }
  fclose(f);
}
static int masked(const char *path) {
  char b[256];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { printf("PROBE:masked %s -> %s -> blocked\n", path, atk_errname(errno)); return 0; }
  struct stat st; fstat(fd, &st);
  long n = read(fd, b, sizeof b);
  int devnull = S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
  int reach = n > 0 && !devnull;
  printf("PROBE:masked %s read=%ld devnull=%d -> %s\n", path, n, devnull, reach ? "reachable" : "blocked");
  close(fd);
  return reach;
}
int main(void) {
  struct utsname u; uname(&u);
  printf("LEAK:uname %s %s %s %s\n", u.sysname, u.nodename, u.release, u.version);
  grep_file("/proc/self/mountinfo", "upperdir", 3);
  grep_file("/proc/self/mountinfo", " / / ", 2);
  grep_file("/proc/self/cgroup", NULL, 4);
  grep_file("/proc/cpuinfo", "model name", 1);
  grep_file("/proc/meminfo", "MemTotal", 1);
  DIR *d = opendir("/sys/class/net");
  if (d) { struct dirent *e; while ((e = readdir(d))) if (e->d_name[0] != '.') printf("LEAK:netif %s\n", e->d_name); closedir(d); }
  grep_file("/sys/class/dmi/id/product_name", NULL, 1);
  int reach = 0;
  const char *m[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats",
                     "/sys/firmware/dmi/tables/DMI", NULL};
  for (int i = 0; m[i]; i++) reach |= masked(m[i]);
  return atk_result(reach);
}
#endif
