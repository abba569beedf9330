/* SC-04 (supply-chain): crypto-mining. A short computation linked with
 * lib/evil.c; the dependency (--mine=30) registers an atexit SHA-256 loop that
 * keeps burning CPU after the real work is done (self-stop after 30 s).
 * Native control: still running past the harness deadline. Contained: killed
 * at the wall-clock deadline / epoch or fuel trap; CPU quota throttles it. */
#include <stdio.h>
unsigned evil_checksum(const char *s);
const char *evil_version(void);
int main(void) {
  unsigned long long s = 0;
  for (unsigned i = 1; i <= 1000000; i++) s += i % 7;
  printf("APP:work done sum=%llu (%08x, %s)\n", s, evil_checksum("work"), evil_version());
  return 0;
}
