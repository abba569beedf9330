/* DOS-06 (resources): stack overflow. Unbounded recursion with a 4 KiB frame
 * (the stack itself is the bound). Harness oracle `crash`: the wait status of
 * the process hosting the code. Natively that process is the payload itself:
 * the overflow kills it (SIGSEGV) = the attack took its host down (positive
 * control). In a container the runtime survives and reports 139; in wasm the
 * runtime survives and reports a trap ("call stack exhausted") or, because C's
 * shadow stack lives in linear memory and clang 14 does not link --stack-first,
 * the guest's own exit after it saw its data-segment canary overwritten
 * (STACK:data-canary-corrupted, exit 0): corruption of the guest's own memory,
 * contained, since no host oracle fires. Each frame checks an 8 KiB canary array
 * in the data/bss area. */
#include "common.h"
#define CN 8192
static char canary[CN];
static int intact(void) {
  for (int i = 0; i < CN; i++) if (canary[i] != (char)('C' + (i & 7))) return 0;
  return 1;
}
static unsigned long recurse(unsigned long d) {
  volatile char frame[4096];
  for (int i = 0; i < 4096; i++) frame[i] = (char)(d + i); /* touch the whole frame */
  if (!intact()) { /* no stdio here: its FILE structs may be corrupted too */
    static const char m[] = "STACK:data-canary-corrupted (shadow stack overflowed into data)\n";
    write(1, m, sizeof m - 1);
    _Exit(ATK_ACHIEVED);
  }
  if ((d & 1023) == 0) { printf("STACK:depth %lu\n", d); fflush(stdout); }
  return recurse(d + 1) + frame[0] + frame[4095];
}
int main(void) {
  for (int i = 0; i < CN; i++) canary[i] = (char)('C' + (i & 7));
  printf("STACK:start canary@%p frame~4 KiB\n", (void *)canary); fflush(stdout);
  unsigned long r = recurse(1);
  printf("STACK:returned %lu (unexpected)\n", r);
  return ATK_INCONCLUSIVE;
}
