/* Prints a known line naming the build it came from (only the wasm32-wasi build says "wasm"),
 * whether its stdout is a terminal, its arguments and the E2E_* environment, then exits 0. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
#ifdef __wasm__
  const char *build = "wasm";
#else
  const char *build = "native";
#endif
  printf("isola-e2e hello from %s\n", build);
  if (isatty(1)) printf("stdout is a terminal\n");
  for (int i = 1; i < argc; i++) printf("arg %d=%s\n", i, argv[i]);
  for (char **e = environ; e && *e; e++)
    if (strncmp(*e, "E2E_", 4) == 0) printf("env %s\n", *e);
  return 0;
}
