/* NET-01 (network): host loopback listener. connect() to 127.0.0.1:<port>
 * (the harness listens in the host netns) and send a marker.
 * Native control: connection accepted. Blocked: own netns (ECONNREFUSED),
 * WASI preview1 has no socket/connect (N/E stub). */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI preview1 has no socket()/connect()")
#else
int main(int argc, char **argv) {
  if (argc < 2) { printf("usage: net-01 <port>\n"); return ATK_INCONCLUSIVE; }
  int ok = atk_connect_send("127.0.0.1", atoi(argv[1]), "ISOLA-NET-01 hello from the sandbox\n");
  return ok ? ATK_ACHIEVED : ATK_BLOCKED;
}
#endif
