/* FS-05 (filesystem): mount surface. Probe only, no mount is ever made:
 * mount() with a non-existent fs type on an existing dir (ENODEV = reachable,
 * EPERM = blocked), fsopen()/open_tree() with invalid args, then the same after
 * unshare(CLONE_NEWUSER|CLONE_NEWNS) in a throw-away child.
 * Natively (root) reachable. Blocked: EPERM (no CAP_SYS_ADMIN, seccomp). */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI has no mount/fsopen/unshare")
#else
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

static int probes(const char *tag, const char *wd) {
  char n[64];
  int r = 0;
  snprintf(n, sizeof n, "%s-mount-nofs", tag);
  long rc = mount("none", wd, "isola-nofs", 0, NULL);
  r |= atk_probe(n, rc, errno);
  snprintf(n, sizeof n, "%s-fsopen-nofs", tag);
  rc = syscall(SYS_fsopen, "isola-nofs", 0);
  r |= atk_probe(n, rc, errno);
  if (rc >= 0) close((int)rc);
  snprintf(n, sizeof n, "%s-open_tree-badflags", tag);
  rc = syscall(SYS_open_tree, -1, "/", 0xFFFFFFFF);
  r |= atk_probe(n, rc, errno);
  snprintf(n, sizeof n, "%s-move_mount-badfd", tag);
  rc = syscall(SYS_move_mount, -1, "", -1, "", 0);
  r |= atk_probe(n, rc, errno);
  return r;
}

int main(void) {
  const char *wd = atk_workdir();
  int reach = probes("initns", wd);
  int pfd[2];
  if (pipe(pfd) == 0) {
    pid_t c = fork();
    if (c == 0) {
      close(pfd[0]);
      int r = atk_probe("unshare-user-mnt", unshare(CLONE_NEWUSER | CLONE_NEWNS), errno);
      if (r) r = probes("userns", wd);
      write(pfd[1], &r, sizeof r);
      _exit(0);
    }
    close(pfd[1]);
    int r = 0;
    if (read(pfd[0], &r, sizeof r) == (ssize_t)sizeof r) reach |= r;
    waitpid(c, NULL, 0);
  }
  return atk_result(reach);
}
#endif
