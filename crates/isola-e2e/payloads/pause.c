/* The sandbox ("pause") process of the suite's pods: holds the pod's namespaces, reaps orphans
 * (it is PID 1 of the pod), and exits 0 on SIGTERM or SIGINT. Built static and native. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_stop(int sig) { (void)sig; stop = 1; }
static void on_child(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, 0);
  sigaction(SIGINT, &sa, 0);
  sa.sa_handler = on_child;
  sigaction(SIGCHLD, &sa, 0);
  while (!stop) pause();
  return 0;
}
