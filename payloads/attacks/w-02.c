/* W-02 (wasm): indirect-call type confusion. Calls int(int,int) through a
 * pointer cast to long(double*) (argv[1] = "index" instead calls table slot
 * 0x7ffff, out of range). Exit 0 + CALLED:mismatch-executed = the mismatched
 * call ran. Expected on wasm: trap "indirect call type mismatch" /
 * "undefined element"; native control: the UB call executes (exit 0). */
#include "common.h"
__attribute__((noinline)) int add(int a, int b) { return a + b + 1; }
typedef long (*wrong_t)(double *);
int main(int argc, char **argv) {
  volatile uintptr_t raw = (uintptr_t)&add;
  if (argc > 1 && !strcmp(argv[1], "index")) raw = 0x7ffff;
  wrong_t f = (wrong_t)raw;
  double d = 1.5;
  printf("CALL:through %#lx with wrong signature\n", (unsigned long)raw); fflush(stdout);
  long r = f(&d);
  printf("CALLED:mismatch-executed result=%ld\n", r);
  return ATK_ACHIEVED;
}
