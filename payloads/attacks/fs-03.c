/* FS-03 (filesystem): hardlink escape.
 * linkat(<canary>, workdir/h) then read through the link; linkat("/etc/shadow")
 * is only attempted and reported (never read). Natively (root, same fs) the link
 * works -> TOKEN. Blocked: ENOENT/EXDEV (not in the mount namespace or across
 * mounts), EPERM under protected_hardlinks, ENOTCAPABLE in WASI. */
#include "common.h"

static int try_link(const char *label, const char *src, const char *dst, int readit) {
  unlink(dst);
  int rc = link(src, dst);
  printf("TRY:%s link(%s) -> %s\n", label, src, rc == 0 ? "LINKED" : atk_errname(errno));
  int leaked = 0;
  if (rc == 0 && readit) leaked = atk_try_read(label, dst);
  unlink(dst);
  return leaked;
}

int main(int argc, char **argv) {
  if (argc < 2) { printf("usage: fs-03 <canary>\n"); return ATK_INCONCLUSIVE; }
  const char *wd = atk_workdir();
  char dst[600], rel[4096];
  int leaked = 0;
  snprintf(dst, sizeof dst, "%s/isola-fs03-h", wd);
  leaked |= try_link("canary-abs", argv[1], dst, 1);
  atk_dotdot(rel, sizeof rel, argv[1], 20);
  leaked |= try_link("canary-dotdot", rel, dst, 1);
  if (!leaked) { /* EXDEV natively: retry into /tmp, the canary's usual fs */
    snprintf(dst, sizeof dst, "/tmp/isola-fs03-h");
    leaked |= try_link("canary-tmp", argv[1], dst, 1);
  }
  snprintf(dst, sizeof dst, "%s/isola-fs03-s", wd);
  try_link("etc-shadow", "/etc/shadow", dst, 0);
  return leaked ? ATK_ACHIEVED : ATK_BLOCKED;
}
