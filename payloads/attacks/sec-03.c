/* SEC-03 (secrets): root-only files. Reads argv[1] (a host 0600 root canary)
 * directly and via ../x20, and checks /etc/shadow readability (only the byte
 * count is printed, never the content). Native control (root): TOKEN.
 * Blocked: EACCES as non-root; ENOENT (not in the mount namespace); WASI:
 * ENOTCAPABLE outside preopens (but the host uid decides DAC inside them). */
#include "common.h"

int main(int argc, char **argv) {
  if (argc < 2) { printf("usage: sec-03 <canary>\n"); return ATK_INCONCLUSIVE; }
  char rel[4096];
  int leaked = atk_try_read("root-only-abs", argv[1]);
  atk_dotdot(rel, sizeof rel, argv[1], 20);
  leaked |= atk_try_read("root-only-dotdot", rel);
  static char buf[8192];
  long n = atk_read_file("/etc/shadow", buf, sizeof buf);
  printf("INFO:/etc/shadow -> %s bytes=%ld (content not printed)\n", n >= 0 ? "READABLE" : atk_errname((int)-n), n);
#ifndef __wasi__
  printf("INFO:uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
#endif
  return leaked ? ATK_ACHIEVED : ATK_BLOCKED;
}
