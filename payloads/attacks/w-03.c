/* W-03 (wasm): table growth. table.grow on __indirect_function_table in steps
 * of 100000 elements, BOUNDED at 10 million elements. -1 = refused (limit, or a
 * non-growable table: clang 14 links a fixed-size table unless the module is
 * linked with -Wl,--growable-table; see wasm_ldflags in the manifest).
 * Exit 0 = reached the bound (no table limit); 1 = refused earlier.
 * Native: not applicable (N/E stub). */
#include "common.h"
#ifndef __wasi__
ATK_NE_MAIN("tables exist only in wasm")
#else
#pragma clang attribute push(__attribute__((target("reference-types"))), apply_to = function)
__asm__(".tabletype __indirect_function_table, funcref\n");
static int grow(int n) {
  int r;
  __asm__ volatile("ref.null_func\n local.get %1\n table.grow __indirect_function_table\n local.set %0" : "=r"(r) : "r"(n));
  return r;
}
int main(void) {
  long total = 0;
  int r = 0;
  while (total < 10000000L) {
    r = grow(100000);
    if (r < 0) break;
    total += 100000;
    if (total % 1000000 == 0) { printf("TABLE:grew to %d+100000 (+%ld)\n", r, total); fflush(stdout); }
  }
  printf("TABLE:%s after +%ld elements\n", r < 0 ? "grow refused (-1)" : "bound reached", total);
  return total >= 10000000L ? ATK_ACHIEVED : ATK_BLOCKED;
}
#pragma clang attribute pop
#endif
