/* W-07 (wasm): Spectre-style timing primitives. (1) the minimum non-zero
 * CLOCK_MONOTONIC delta over 200000 reads; (2) cache hit/miss separability on
 * the payload's OWN 8 MiB buffer only (d' between hot and evicted loads).
 * Exit 0 = fine timer (< 1 us granularity): the primitive is available;
 * exit 1 = coarsened (>= 100 us); 4 = in between. Native: ns timers (control). */
#include "common.h"
static double isqrt(double x) { double r = x > 1 ? x : 1; for (int i = 0; i < 60; i++) r = 0.5 * (r + x / r); return r; }
static unsigned long long ns(void) {
  struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return (unsigned long long)t.tv_sec * 1000000000ULL + t.tv_nsec;
}
#define BIG (8u << 20)
static volatile unsigned char buf[BIG];
int main(void) {
  unsigned long long best = ~0ULL, prev = ns();
  for (int i = 0; i < 200000; i++) {
    unsigned long long t = ns();
    if (t > prev && t - prev < best) best = t - prev;
    prev = t;
  }
  printf("TIMER:granularity_ns=%llu\n", best);
  double sh = 0, sh2 = 0, sm = 0, sm2 = 0;
  int N = 400;
  for (int i = 0; i < N; i++) {
    volatile unsigned char x = buf[64];
    unsigned long long t0 = ns(); x = buf[64]; unsigned long long hit = ns() - t0;
    for (unsigned j = 0; j < BIG; j += 64) x ^= buf[j]; /* evict by walking the buffer */
    size_t k = 4096 + (size_t)(i * 4160) % (BIG / 2);
    t0 = ns(); x ^= buf[k]; unsigned long long miss = ns() - t0;
    (void)x;
    sh += hit; sh2 += (double)hit * hit; sm += miss; sm2 += (double)miss * miss;
  }
  double mh = sh / N, mm = sm / N, vh = sh2 / N - mh * mh, vm = sm2 / N - mm * mm;
  double dp = (mm - mh) / isqrt((vh + vm) / 2 + 1e-9);
  printf("TIMER:hit_mean_ns=%.1f miss_mean_ns=%.1f dprime=%.2f\n", mh, mm, dp);
  return best < 1000 ? ATK_ACHIEVED : best >= 100000 ? ATK_BLOCKED : ATK_INCONCLUSIVE;
}
