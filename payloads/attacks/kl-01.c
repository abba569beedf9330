/* KL-01 (kernel-info): kernel addresses and logs. /proc/kallsyms (is
 * commit_creds non-zero?), /proc/modules, syslog(SIZE_BUFFER) and
 * syslog(READ_ALL) (only the last 5 lines and lines containing argv[1] /
 * "ISOLA" are printed), /dev/kmsg open, /boot/System.map-<release>.
 * Native control (root, kptr_restrict<2): addresses + log -> reachable.
 * Blocked: zeroed addresses, syslog EPERM, /dev/kmsg absent. WASI: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI has no procfs/syslog")
#else
#include <sys/klog.h>
#include <sys/utsname.h>
int main(int argc, char **argv) {
  const char *marker = argc > 1 ? argv[1] : "ISOLA";
  int reach = 0;
  FILE *f = fopen("/proc/kallsyms", "r");
  char line[512];
  unsigned long long addr = 0;
  while (f && fgets(line, sizeof line, f)) {
    char name[256], t;
    unsigned long long a;
    if (sscanf(line, "%llx %c %255s", &a, &t, name) == 3 && !strcmp(name, "commit_creds")) { addr = a; break; }
  }
  if (f) fclose(f);
  printf("LEAK:kallsyms commit_creds=%#llx (%s)\n", addr, f ? "file readable" : atk_errname(errno));
  reach |= addr != 0;
  long n = klogctl(10 /* SIZE_BUFFER */, NULL, 0);
  atk_probe("syslog(SIZE_BUFFER)", n, errno);
  if (n > 0) {
    char *buf = malloc(n + 1);
    long r = klogctl(3 /* READ_ALL */, buf, n);
    reach |= atk_probe("syslog(READ_ALL)", r, errno) && r > 0;
    if (r > 0) {
      buf[r] = 0;
      int lines = 0;
      for (long i = r - 1; i > 0 && lines < 6; i--) if (buf[i] == '\n') lines++;
      char *save, *tok;
      for (tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save))
        if (strstr(tok, marker)) printf("LEAK:dmesg-marker:%s\n", tok);
    }
    free(buf);
  }
  int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
  reach |= atk_probe("open(/dev/kmsg)", fd, errno) && fd >= 0;
  if (fd >= 0) close(fd);
  struct utsname u; uname(&u);
  char p[400]; snprintf(p, sizeof p, "/boot/System.map-%s", u.release);
  printf("INFO:%s -> %s\n", p, access(p, R_OK) == 0 ? "readable" : atk_errname(errno));
  printf("INFO:/proc/modules -> %s\n", access("/proc/modules", R_OK) == 0 ? "readable" : atk_errname(errno));
  return atk_result(reach);
}
#endif
