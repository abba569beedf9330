/* Grows its memory in 1 MiB steps, touching every page, up to 512 MiB, printing progress. Exits 0
 * only when it got all of it ("reached 512 MiB"); exits 3 when an allocation fails (in wasm:
 * memory.grow refused by the runtime's limit). Every block is kept and read back so the compiler
 * cannot elide the allocations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *blocks[512];

int main(void) {
  const int step = 1 << 20;
  unsigned long sum = 0;
  for (int mib = 1; mib <= 512; mib++) {
    char *p = malloc(step);
    if (!p) {
      printf("isola-e2e memhog: allocation failed at %d MiB\n", mib);
      return 3;
    }
    memset(p, mib & 0xff, step);
    blocks[mib - 1] = p;
    for (int i = 0; i < mib; i++) sum += (unsigned char)blocks[i][(mib * 4099) % step];
    if (mib % 8 == 0) { printf("isola-e2e memhog: %d MiB\n", mib); fflush(stdout); }
  }
  printf("isola-e2e memhog: reached 512 MiB (checksum %lu)\n", sum);
  return 0;
}
