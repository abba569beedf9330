/* A long-running workload: says which build it is, then sleeps in 1 s steps; bounded at 60 s so a
 * stuck test never leaves it behind forever. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
#ifdef __wasm__
  const char *build = "wasm";
#else
  const char *build = "native";
#endif
  printf("isola-e2e sleeper %s started\n", build);
  fflush(stdout);
  for (int i = 0; i < 60; i++) sleep(1);
  printf("isola-e2e sleeper %s done\n", build);
  return 0;
}
