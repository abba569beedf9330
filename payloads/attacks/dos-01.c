/* DOS-01 (resources): memory bomb, BOUNDED at 512 MiB. malloc+memset in
 * 16 MiB chunks (every page touched); on wasm also raw memory.grow. Prints
 * MEM:<MiB> progress. Native control: reaches 512 MiB (exit 0). Contained:
 * OOM-kill (137) below the cgroup limit, malloc NULL / grow -1 at StoreLimits. */
#include "common.h"
#define CHUNK (16u << 20)
#define CAP_MIB 512
int main(void) {
  unsigned mib = 0;
  void *keep[CAP_MIB / 16 + 1];
  int k = 0;
  while (mib < CAP_MIB) {
    char *p = malloc(CHUNK);
    if (!p) { printf("MEM:malloc failed at %u MiB\n", mib); break; }
    memset(p, 0xA5, CHUNK);
    keep[k++] = p;
    mib += 16;
    if (mib % 64 == 0) { printf("MEM:%u MiB\n", mib); fflush(stdout); }
  }
#ifdef __wasi__
  unsigned long pages = __builtin_wasm_memory_size(0);
  long r = __builtin_wasm_memory_grow(0, 256); /* +16 MiB raw */
  printf("MEM:raw memory.grow(+256 pages) at %lu pages -> %ld\n", pages, r);
#endif
  printf("MEM:peak %u MiB of cap %u\n", mib, CAP_MIB);
  while (k > 0) free(keep[--k]);
  return mib >= CAP_MIB ? ATK_ACHIEVED : ATK_BLOCKED;
}
