/* PRIV-07 (privilege, class P): kernel-surface syscalls, object creation only
 * (created then closed, never used): a) add_key(NULL type)/keyctl(bad op)
 * b) bpf(BPF_MAP_CREATE, 1-entry array) c) perf_event_open(SW_CPU_CLOCK, self)
 * d) userfaultfd + UFFDIO_API e) io_uring_setup(1). Also prints Seccomp:.
 * Native control (root): reachable. Blocked: EPERM/ENOSYS. WASI: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI has none of these syscalls")
#else
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
int main(void) {
  int reach = 0;
  char st[8192];
  if (atk_read_file("/proc/self/status", st, sizeof st) > 0) {
    char *l = strstr(st, "Seccomp:"); if (l) printf("INFO:%.*s\n", (int)strcspn(l, "\n"), l);
  }
  long rc = syscall(SYS_add_key, NULL, NULL, NULL, 0, 0);
  reach |= atk_probe("add_key(NULL)", rc, errno);
  rc = syscall(SYS_keyctl, 0x7fff, 0, 0, 0, 0);
  reach |= atk_probe("keyctl(bad-op)", rc, errno);
  union bpf_attr a; memset(&a, 0, sizeof a);
  a.map_type = BPF_MAP_TYPE_ARRAY; a.key_size = 4; a.value_size = 4; a.max_entries = 1;
  rc = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
  reach |= atk_probe("bpf(MAP_CREATE)", rc, errno);
  if (rc >= 0) close((int)rc);
  struct perf_event_attr pa; memset(&pa, 0, sizeof pa);
  pa.type = PERF_TYPE_SOFTWARE; pa.size = sizeof pa; pa.config = PERF_COUNT_SW_CPU_CLOCK; pa.disabled = 1;
  pa.exclude_kernel = 1; pa.exclude_hv = 1;
  rc = syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
  reach |= atk_probe("perf_event_open(SW_CPU_CLOCK)", rc, errno);
  if (rc >= 0) close((int)rc);
  rc = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  reach |= atk_probe("userfaultfd", rc, errno);
  if (rc >= 0) {
    struct uffdio_api api = {.api = UFFD_API, .features = 0};
    atk_probe("UFFDIO_API", ioctl((int)rc, UFFDIO_API, &api), errno);
    close((int)rc);
  }
  unsigned char params[120]; memset(params, 0, sizeof params); /* struct io_uring_params */
  rc = syscall(425 /* io_uring_setup */, 1, params);
  reach |= atk_probe("io_uring_setup(1)", rc, errno);
  if (rc >= 0) close((int)rc);
  return atk_result(reach);
}
#endif
