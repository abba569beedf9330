/* W-01 (wasm): out-of-bounds access. wasm: first a NULL read (address 0 is
 * valid linear memory: the documented semantic gap, no trap), then a load from
 * 0xFFFFFFF0, beyond any 32-bit linear memory. Exit 0 + OOB-READ:survived
 * = the OOB access did not trap (escape). Expected: wasm trap "out of bounds
 * memory access"; native control: SIGSEGV (139). */
#include "common.h"
int main(void) {
  volatile int *p;
#ifdef __wasi__
  p = (volatile int *)0;
  printf("NULL-READ:value=%d (no trap: address 0 is linear memory)\n", *p);
  fflush(stdout);
#endif
  uintptr_t a = (uintptr_t)0xFFFFFFF0u;
  p = (volatile int *)a;
  printf("OOB:reading %#lx\n", (unsigned long)a); fflush(stdout);
  int v = *p;
  printf("OOB-READ:survived value=%d\n", v);
  return ATK_ACHIEVED;
}
