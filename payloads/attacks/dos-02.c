/* DOS-02 (resources): fork and thread bomb, BOUNDED at 200 processes and 200
 * threads; all children are killed and reaped before exit. Native control:
 * 200 forks + 200 threads succeed (exit 0). Contained: EAGAIN at pids.max.
 * WASI: no fork; threads need wasi-threads (N/E stub). */
#include "common.h"
#ifdef __wasi__
ATK_NE_MAIN("no fork in WASI; pthread_create needs wasi-threads")
#else
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#define MAXP 200
static void *idle(void *a) { (void)a; sleep(3); return NULL; }
int main(void) {
  pid_t kids[MAXP];
  int n = 0, t = 0;
  for (; n < MAXP; n++) {
    pid_t c = fork();
    if (c < 0) { printf("FORK:failed after %d -> %s\n", n, atk_errname(errno)); break; }
    if (c == 0) { alarm(10); pause(); _exit(0); } /* alarm: no orphan survives */
    kids[n] = c;
  }
  printf("FORK:%d processes\n", n); fflush(stdout);
  pthread_t th[MAXP];
  for (; t < MAXP; t++) {
    pthread_attr_t a; pthread_attr_init(&a); pthread_attr_setstacksize(&a, 65536);
    int e = pthread_create(&th[t], &a, idle, NULL);
    pthread_attr_destroy(&a);
    if (e) { printf("THREAD:failed after %d -> %s\n", t, atk_errname(e)); break; }
  }
  printf("THREAD:%d threads\n", t); fflush(stdout);
  for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
  for (int i = 0; i < n; i++) waitpid(kids[i], NULL, 0);
  for (int i = 0; i < t; i++) pthread_detach(th[i]);
  return (n == MAXP && t == MAXP) ? ATK_ACHIEVED : ATK_BLOCKED;
}
#endif
