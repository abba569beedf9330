/* W-08 (wasm): cross-instance residue. The harness runs this module twice in a
 * row on the same engine (pooling slot reuse). Each run first SCANS fresh
 * memory (4 MiB obtained by raw memory.grow on wasm / malloc natively, never
 * written before) and the whole heap for the marker of a previous tenant, then
 * FILLS its memory with the marker. RESIDUE:found (exit 0) = FAIL; all zeros
 * (exit 1) = clean. Native: N/E (exit 2): no runtime hands one memory slot to
 * two tenants; every process gets fresh kernel-zeroed pages. */
#include "common.h"
#define SZ (4u << 20)
#ifndef __wasi__
int main(void) {
  printf("N/E: cross-instance residue needs a runtime that reuses one memory slot for two tenants; natively every process gets fresh kernel-zeroed pages\n");
  return ATK_NE;
}
#else
static const char MARK[] = "ISOLA-W08-RESIDUE-TOKEN";
int main(void) {
  unsigned char *fresh;
  long pg = __builtin_wasm_memory_grow(0, SZ >> 16);
  if (pg < 0) { printf("RESIDUE:grow refused\n"); return ATK_INCONCLUSIVE; }
  fresh = (unsigned char *)(uintptr_t)((unsigned long)pg << 16);
  unsigned long nonzero = 0, found = 0;
  for (size_t i = 0; i < SZ; i++) {
    if (fresh[i]) nonzero++;
    if (fresh[i] == 'I' && i + sizeof MARK - 1 <= SZ && !memcmp(fresh + i, MARK, sizeof MARK - 1)) found++;
  }
  printf("RESIDUE:fresh=%u bytes nonzero=%lu markers=%lu\n", SZ, nonzero, found);
  char *heap = malloc(SZ); /* the allocator may hand back memory a previous run filled */
  if (heap) {
    for (size_t i = 0; i + sizeof MARK <= SZ; i += 4096) if (!memcmp(heap + i, MARK, sizeof MARK - 1)) found++;
    for (size_t i = 0; i + sizeof MARK <= SZ; i += sizeof MARK) memcpy(heap + i, MARK, sizeof MARK);
  }
  for (size_t i = 0; i + sizeof MARK <= SZ; i += sizeof MARK) memcpy(fresh + i, MARK, sizeof MARK); /* for the next tenant */
  printf("RESIDUE:%s\n", found ? "found (previous tenant's data visible)" : "none");
  return found ? ATK_ACHIEVED : ATK_BLOCKED;
}
#endif
