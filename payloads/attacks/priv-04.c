/* PRIV-04 (privilege): capabilities. Parses CapInh/Prm/Eff/Bnd/Amb, then
 * capset() copying permitted into inheritable and PR_CAP_AMBIENT_RAISE of
 * CAP_SYS_ADMIN (21). Native control (root): CapEff has CAP_SYS_ADMIN and the
 * raise works -> reachable. Blocked: all sets 0, capset/prctl EPERM. WASI: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI has no capabilities")
#else
#include <linux/capability.h>
#include <sys/prctl.h>
int main(void) {
  char st[8192];
  unsigned long long eff = 0;
  if (atk_read_file("/proc/self/status", st, sizeof st) > 0) {
    const char *keys[] = {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "Seccomp:", NULL};
    for (int i = 0; keys[i]; i++) {
      char *l = strstr(st, keys[i]);
      if (l) { printf("INFO:%.*s\n", (int)strcspn(l, "\n"), l); if (i == 2) eff = strtoull(l + 7, NULL, 16); }
    }
  }
  int reach = (eff >> CAP_SYS_ADMIN) & 1;
  printf("PROBE:CapEff has CAP_SYS_ADMIN -> %s\n", reach ? "reachable" : "blocked");
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  long rc = syscall(SYS_capget, &h, d);
  if (rc == 0) {
    d[0].inheritable = d[0].permitted; d[1].inheritable = d[1].permitted;
    d[0].effective = d[0].permitted | (1u << CAP_SYS_ADMIN);
    rc = syscall(SYS_capset, &h, d);
    reach |= atk_probe("capset(+sys_admin,+inh)", rc, errno) && rc == 0;
  }
  rc = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0);
  reach |= atk_probe("ambient-raise-sys_admin", rc, errno) && rc == 0;
  return atk_result(reach);
}
#endif
