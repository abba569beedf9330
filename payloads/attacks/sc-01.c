/* SC-01 (supply-chain): constructor exfiltration. A harmless word counter
 * linked with lib/evil.c, whose constructor (before main) reads the token file
 * (--canary=), env and cmdline, sends them to 127.0.0.1:<port> (--port=) and
 * tries DNS. Native control: listener hit + TOKEN. Blocked: no route to the
 * host listener, no env secrets, canary not in the mount ns / preopen. */
#include <stdio.h>
#include <string.h>
unsigned evil_checksum(const char *s);
const char *evil_version(void);
int main(void) {
  const char *text = "the quick brown fox jumps over the lazy dog";
  int words = 1;
  for (const char *p = text; *p; p++) words += *p == ' ';
  printf("APP:%d words, checksum %08x, using %s\n", words, evil_checksum(text), evil_version());
  return 0;
}
