/* NET-05 (network): metadata and control sockets. Connect-then-close to
 * containerd/docker/kubelet unix sockets and to abstract @/containerd-shim
 * sockets listed in /proc/net/unix (CVE-2020-15257 class); then an IMDS-style
 * "GET /latest/meta-data/" to the FAKE metadata server the harness runs on
 * 127.0.0.1:<port> (never 169.254.169.254 on a shared machine).
 * Native control: listener hit. Blocked: own netns, sockets not mounted. WASI: N/E. */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("WASI has no unix sockets and no connect()")
#else
#include <stddef.h>
#include <sys/un.h>
static void try_unix(const char *path, int abstract) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {0};
  sa.sun_family = AF_UNIX;
  size_t n = strlen(path);
  if (n >= sizeof sa.sun_path - 1) n = sizeof sa.sun_path - 2;
  memcpy(sa.sun_path + (abstract ? 1 : 0), path, n);
  int rc = connect(s, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 1 : 0));
  printf("UNIX:%s%s -> %s\n", abstract ? "@" : "", path, rc == 0 ? "CONNECTED" : atk_errname(errno));
  close(s);
}
int main(int argc, char **argv) {
  if (argc < 2) { printf("usage: net-05 <imds-port>\n"); return ATK_INCONCLUSIVE; }
  const char *socks[] = {"/run/containerd/containerd.sock", "/var/run/docker.sock", "/run/docker.sock",
                         "/run/crio/crio.sock", "/var/lib/kubelet/pod-resources/kubelet.sock", NULL};
  for (int i = 0; socks[i]; i++) try_unix(socks[i], 0);
  FILE *f = fopen("/proc/net/unix", "r");
  char line[512];
  int shims = 0;
  while (f && fgets(line, sizeof line, f) && shims < 8) {
    char *at = strstr(line, "@/containerd-shim");
    if (at) { at[strcspn(at, "\n")] = 0; try_unix(at + 1, 1); shims++; }
  }
  if (f) fclose(f);
  int hit = atk_connect_send("127.0.0.1", atoi(argv[1]),
      "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n");
  return hit ? ATK_ACHIEVED : ATK_BLOCKED;
}
#endif
