/* A long-running workload: says which build it is, then sleeps in 1 s steps; bounded at 60 s so a
 * stuck test never leaves it behind forever. With an argument it is a quick exec instead: it
 * prints the argument to stdout and stderr (and whether its stdout is a terminal) and exits 3. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
#ifdef __wasm__
  const char *build = "wasm";
#else
  const char *build = "native";
#endif
  if (argc > 1) {
    printf("isola-e2e exec %s %s\n", build, argv[1]);
    fprintf(stderr, "isola-e2e exec stderr %s\n", argv[1]);
    if (isatty(1)) printf("isola-e2e exec on a terminal\n");
    return 3;
  }
  printf("isola-e2e sleeper %s started\n", build);
  fflush(stdout);
  for (int i = 0; i < 60; i++) sleep(1);
  printf("isola-e2e sleeper %s done\n", build);
  return 0;
}
