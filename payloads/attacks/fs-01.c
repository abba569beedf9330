/* FS-01 (filesystem): ".." and absolute paths to a host canary.
 * Tries: absolute path, "../"x20 + path, and a chdir("..") loop, to read
 * argv[1] (the harness's host canary). Natively all succeed (TOKEN printed).
 * Blocked: ENOENT inside a pivot_root'd rootfs; ENOTCAPABLE (76) in WASI. */
#include "common.h"

int main(int argc, char **argv) {
  if (argc < 2) { printf("usage: fs-01 <canary>\n"); return ATK_INCONCLUSIVE; }
  const char *canary = argv[1];
  char rel[4096];
  int leaked = 0;
  leaked |= atk_try_read("absolute", canary);
  atk_dotdot(rel, sizeof rel, canary, 20);
  leaked |= atk_try_read("dotdot20", rel);
  /* chdir("..") loop, then a relative path from wherever we ended up */
  for (int i = 0; i < 40; i++)
    if (chdir("..") != 0) { printf("INFO:chdir(..) -> %s\n", atk_errname(errno)); break; }
  atk_dotdot(rel, sizeof rel, canary, 0);
  leaked |= atk_try_read("chdir-loop", rel);
  return leaked ? ATK_ACHIEVED : ATK_BLOCKED;
}
