/* FS-06 (filesystem, class P): devices and kernel tunables. PROBE ONLY:
 * mknod a block device 8:0 in the workdir (deleted at once, never opened),
 * open /dev/mem and /dev/kmsg O_RDONLY (closed unread), open O_WRONLY and
 * close WITHOUT WRITING /proc/sys/kernel/core_pattern, /proc/sysrq-trigger and
 * every cgroup v1 release_agent. Natively (root) reachable. Blocked: EPERM
 * (no CAP_MKNOD), ENOENT (no device), EROFS/EACCES (ro /proc/sys, masked). */
#include "common.h"
#ifndef __wasi__
#include <sys/sysmacros.h>
#endif

static int try_open(const char *path, int flags) {
  int fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
  int e = errno;
  char n[300];
  snprintf(n, sizeof n, "open%s:%s", (flags & O_ACCMODE) == O_WRONLY ? "-wronly" : "-rdonly", path);
  int r = atk_probe(n, fd < 0 ? -1 : 0, e);
  if (fd >= 0) close(fd); /* never written */
  if (fd < 0 && e == ENOENT) r = 0; /* absent = not reachable */
  return r;
}

int main(void) {
  int reach = 0;
#ifndef __wasi__
  char node[600];
  snprintf(node, sizeof node, "%s/isola-fs06-sda", atk_workdir());
  unlink(node);
  long rc = mknod(node, S_IFBLK | 0600, makedev(8, 0));
  reach |= atk_probe("mknod-blk-8:0", rc, errno);
  unlink(node);
#endif
  reach |= try_open("/dev/mem", O_RDONLY);
  reach |= try_open("/dev/kmsg", O_RDONLY);
  reach |= try_open("/proc/sys/kernel/core_pattern", O_WRONLY);
  reach |= try_open("/proc/sysrq-trigger", O_WRONLY);
  const char *ra[] = {"/sys/fs/cgroup/memory/release_agent", "/sys/fs/cgroup/pids/release_agent",
                      "/sys/fs/cgroup/cpu/release_agent", "/sys/fs/cgroup/devices/release_agent",
                      "/sys/fs/cgroup/systemd/release_agent", "/sys/fs/cgroup/rdma/release_agent", NULL};
  for (int i = 0; ra[i]; i++) reach |= try_open(ra[i], O_WRONLY);
  return atk_result(reach);
}
