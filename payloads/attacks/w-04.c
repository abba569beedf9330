/* W-04 (wasm): memory growth beyond the limit. memory.grow in 16 MiB steps
 * (each new page touched), BOUNDED at 512 MiB total linear memory.
 * -1 before the bound = StoreLimits / pooling cap hit (contained).
 * Exit 0 = bound reached (no limit below 512 MiB). Native: N/E stub (see DOS-01). */
#include "common.h"
#ifndef __wasi__
ATK_NE_MAIN("memory.grow exists only in wasm (native analogue: DOS-01)")
#else
int main(void) {
  unsigned long pages = __builtin_wasm_memory_size(0);
  printf("MEM:start %lu pages (%lu MiB)\n", pages, pages / 16);
  long r = 0;
  while (pages < 8192) { /* 8192 pages = 512 MiB */
    r = __builtin_wasm_memory_grow(0, 256);
    if (r < 0) break;
    for (unsigned long pg = (unsigned long)r; pg < (unsigned long)r + 256; pg++) ((volatile char *)(pg << 16))[0] = 1;
    pages = __builtin_wasm_memory_size(0);
    if (pages % 1024 < 256) { printf("MEM:%lu MiB\n", pages / 16); fflush(stdout); }
  }
  printf("MEM:%s at %lu pages (%lu MiB)\n", r < 0 ? "grow refused (-1)" : "bound reached", pages, pages / 16);
  return pages >= 8192 ? ATK_ACHIEVED : ATK_BLOCKED;
}
#endif
