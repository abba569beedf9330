/* SC-02 (supply-chain): persistence. A harmless greeter linked with
 * lib/evil.c; the constructor (--persist=<target_file>) appends an autorun line
 * to the harness's stand-in for ~/.profile on a persistent volume, drops
 * /tmp/.isola-sc02 and <workdir>/autorun.sh, and reports whether a marker from
 * a previous task was found. Native control: target_file sha256 changes.
 * Blocked: EROFS / not mounted / read-only preopen; scratch wiped per task. */
#include <stdio.h>
unsigned evil_checksum(const char *s);
const char *evil_version(void);
int main(int argc, char **argv) {
  (void)argc; (void)argv;
  printf("APP:hello (checksum %08x, %s)\n", evil_checksum("hello"), evil_version());
  return 0;
}
