/* PRIV-05 (privilege): namespaces. Each attempt runs in a throw-away child:
 * unshare(NEWUSER); unshare(NEWNS|NEWNET|NEWPID|NEWCGROUP); clone(CLONE_NEWUSER);
 * clone3(NULL,0) (EINVAL = reachable, ENOSYS = filtered); setns into
 * /proc/1/ns/{mnt,net,pid}. Native control (root): reachable. Blocked: EPERM
 * (seccomp, no CAP_SYS_ADMIN), ENOSYS for clone3. WASI: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI has no namespaces")
#else
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
static int in_child(const char *name, int what, const char *arg) {
  int pfd[2];
  if (pipe(pfd)) return 0;
  pid_t c = fork();
  if (c == 0) {
    long rc; int e;
    if (what == 0) rc = unshare(CLONE_NEWUSER);
    else if (what == 1) rc = unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP);
    else if (what == 2) { rc = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0); if (rc == 0) _exit(0); if (rc > 0) waitpid(rc, 0, 0); }
    else if (what == 3) rc = syscall(435 /* clone3 */, NULL, 0);
    else { int fd = open(arg, O_RDONLY | O_CLOEXEC); rc = fd < 0 ? -1 : setns(fd, 0); }
    e = errno;
    int r[2] = {(int)(rc < 0 ? -1 : 0), e};
    write(pfd[1], r, sizeof r);
    _exit(0);
  }
  close(pfd[1]);
  int r[2] = {-1, EIO};
  if (read(pfd[0], r, sizeof r) != (ssize_t)sizeof r) r[1] = EIO;
  close(pfd[0]);
  waitpid(c, NULL, 0);
  return atk_probe(name, r[0], r[1]);
}
int main(void) {
  int reach = 0;
  reach |= in_child("unshare(NEWUSER)", 0, NULL);
  reach |= in_child("unshare(NEWNS|NEWNET|NEWPID|NEWCGROUP)", 1, NULL);
  reach |= in_child("clone(CLONE_NEWUSER)", 2, NULL);
  in_child("clone3(NULL,0) (info)", 3, NULL);
  reach |= in_child("setns(/proc/1/ns/mnt)", 4, "/proc/1/ns/mnt");
  reach |= in_child("setns(/proc/1/ns/net)", 4, "/proc/1/ns/net");
  reach |= in_child("setns(/proc/1/ns/pid)", 4, "/proc/1/ns/pid");
  return atk_result(reach);
}
#endif
