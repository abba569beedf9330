/* SC-03 (supply-chain): shared-volume tampering. A harmless config printer
 * linked with lib/evil.c; the constructor (--tamper=<target_file>) overwrites
 * the harness's checksummed file in place, or replaces it via rename.
 * Native control: sha256 changes. Blocked: file not visible, or mounted /
 * preopened read-only (EROFS/EACCES/ENOTCAPABLE). */
#include <stdio.h>
unsigned evil_checksum(const char *s);
const char *evil_version(void);
int main(void) {
  const char *cfg[] = {"listen=127.0.0.1", "workers=2", "log=info", NULL};
  for (int i = 0; cfg[i]; i++) printf("APP:cfg %s (%08x)\n", cfg[i], evil_checksum(cfg[i]));
  printf("APP:%s\n", evil_version());
  return 0;
}
