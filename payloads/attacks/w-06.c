/* W-06 (wasm): WASI path-CVE regression matrix (GHSA-vqjp-4c8c-hfgg,
 * GHSA-m9f7-9w4p-gv38, GHSA-2r75-cxrj-cmph). In the workdir (WASI: the
 * preopen) symlinks with targets {"..","../..","/","/etc",<canary_dir>} x names
 * {"l","l/"} x ops {open, stat, readlink, O_CREAT, rename, unlink}. Reads go
 * for the canary; writes (O_CREAT/rename/unlink) only ever target files inside
 * <canary_dir> named .isola-w06-* (never /, /etc). Native control: links are
 * followed on the host -> TOKEN. Blocked: ENOTCAPABLE/EPERM on patched wasmtime. */
#include "common.h"
int main(int argc, char **argv) {
  if (argc < 3) { printf("usage: w-06 <canary> <canary_dir>\n"); return ATK_INCONCLUSIVE; }
  const char *canary = argv[1], *cdir = argv[2], *wd = atk_workdir();
  const char *base = strrchr(canary, '/') ? strrchr(canary, '/') + 1 : canary;
  const char *targets[] = {"..", "../..", "/", "/etc", cdir, NULL};
  char l[700], p[4096], rel[4096];
  int leaked = 0;
  for (int t = 0; targets[t]; t++) {
    snprintf(l, sizeof l, "%s/isola-w06-l%d", wd, t);
    unlink(l);
    int rc = symlink(targets[t], l);
    printf("W06:symlink %s -> %s: %s\n", l, targets[t], rc == 0 ? "OK" : atk_errname(errno));
    if (rc) continue;
    for (int slash = 0; slash < 2; slash++) {
      const char *sfx = slash ? "/" : "";
      if (targets[t] == cdir) snprintf(p, sizeof p, "%s%s%s%s", l, sfx, slash ? "" : "/", base);
      else { atk_dotdot(rel, sizeof rel, canary, targets[t][0] == '/' ? 0 : 20); snprintf(p, sizeof p, "%s%s%s%s", l, sfx, slash ? "" : "/", rel); }
      char lab[64]; snprintf(lab, sizeof lab, "open t=%d name=l%s", t, sfx);
      leaked |= atk_try_read(lab, p);
      struct stat st;
      snprintf(p, sizeof p, "%s%s", l, sfx);
      printf("W06:stat(%s) -> %s\n", p, stat(p, &st) == 0 ? "OK(followed)" : atk_errname(errno));
    }
    char rl[512] = "";
    long n = readlink(l, rl, sizeof rl - 1);
    printf("W06:readlink -> %s %s\n", n >= 0 ? "OK" : atk_errname(errno), n >= 0 ? rl : "");
    if (targets[t] == cdir) { /* write ops, confined to harness-owned canary_dir */
      char c1[800], c2[800];
      snprintf(c1, sizeof c1, "%s/.isola-w06-created", l);
      int fd = open(c1, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      printf("W06:O_CREAT via link -> %s\n", fd >= 0 ? "CREATED(escape)" : atk_errname(errno));
      if (fd >= 0) { write(fd, "w06\n", 4); close(fd); leaked = 1; }
      snprintf(c2, sizeof c2, "%s/.isola-w06-renamed", l);
      printf("W06:rename via link -> %s\n", rename(c1, c2) == 0 ? "RENAMED(escape)" : atk_errname(errno));
      printf("W06:unlink via link -> %s\n", unlink(c2) == 0 ? "UNLINKED(escape)" : atk_errname(errno));
      unlink(c1);
    }
    unlink(l);
  }
  return leaked ? ATK_ACHIEVED : ATK_BLOCKED;
}
