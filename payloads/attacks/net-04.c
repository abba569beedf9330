/* NET-04 (network): raw and packet sockets. socket(AF_INET,SOCK_RAW,ICMP),
 * socket(AF_PACKET,SOCK_RAW), the ICMP ping socket (SOCK_DGRAM,ICMP); one echo
 * request to 127.0.0.1 only. Native control (root, CAP_NET_RAW): reachable.
 * Blocked: EPERM (NET_RAW dropped), EACCES (ping_group_range), EAFNOSUPPORT. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI has no raw or packet sockets")
#else
#include <netinet/ip_icmp.h>
int main(void) {
  int reach = 0;
  int s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  reach |= atk_probe("raw-icmp", s, errno);
  if (s >= 0) {
    struct icmphdr h = {0};
    h.type = ICMP_ECHO; h.un.echo.id = htons(0x1501); h.un.echo.sequence = htons(1);
    unsigned sum = 0; unsigned short *w = (unsigned short *)&h;
    for (size_t i = 0; i < sizeof h / 2; i++) sum += w[i];
    sum = (sum >> 16) + (sum & 0xffff); sum += sum >> 16; h.checksum = ~sum;
    struct sockaddr_in sa = {0}; sa.sin_family = AF_INET; sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long rc = sendto(s, &h, sizeof h, 0, (struct sockaddr *)&sa, sizeof sa);
    printf("INFO:echo to 127.0.0.1 -> %s\n", rc >= 0 ? "SENT" : atk_errname(errno));
    close(s);
  }
  s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x0003));
  reach |= atk_probe("af-packet", s, errno);
  if (s >= 0) close(s);
  s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
  atk_probe("icmp-ping-socket (info only)", s, errno);
  if (s >= 0) close(s);
  return atk_result(reach);
}
#endif
