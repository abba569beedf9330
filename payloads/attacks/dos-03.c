/* DOS-03 (resources): infinite loop. Spins on the CPU; the ONLY unbounded
 * scenario, but it still stops itself after 60 s (time checked every 2^22
 * iterations). Native control: still running at the harness deadline.
 * Contained: wall-clock kill / epoch or fuel trap within the deadline. */
#include "common.h"
int main(void) {
  printf("LOOP:start\n"); fflush(stdout);
  volatile unsigned long long x = 0;
  double t0 = atk_now();
  for (;;) {
    for (unsigned i = 0; i < (1u << 22); i++) x += i ^ (x >> 3);
    if (atk_now() - t0 > 60.0) break;
  }
  printf("LOOP:self-stopped after 60 s (nobody killed us) x=%llu\n", (unsigned long long)x);
  return ATK_ACHIEVED;
}
