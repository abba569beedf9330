/* PRIV-06 (privilege, class P): kernel modules. PROBE ONLY with invalid args:
 * finit_module(-1,"",0) (EBADF = reachable) and init_module(NULL,0,"")
 * (EFAULT/EINVAL = reachable). EPERM = blocked; ENOSYS = kernel built without
 * modules or filtered. Socket-family autoload (DCCP/TIPC/AF_ALG) is NOT tried:
 * it changes host kernel state (class V). WASI: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI has no module syscalls")
#else
int main(void) {
  int reach = 0;
  long rc = syscall(SYS_finit_module, -1, "", 0);
  reach |= atk_probe("finit_module(-1)", rc, errno);
  rc = syscall(SYS_init_module, NULL, 0, "");
  reach |= atk_probe("init_module(NULL)", rc, errno);
  rc = syscall(SYS_delete_module, "isola_no_such_module", 0);
  atk_probe("delete_module(nonexistent) (info)", rc, errno);
  struct stat st;
  printf("INFO:/proc/modules %s\n", stat("/proc/modules", &st) == 0 ? "present" : "absent (CONFIG_MODULES=n?)");
  return atk_result(reach);
}
#endif
