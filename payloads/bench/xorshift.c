/* xorshift: PRNG-heavy integer loop: xorshift128+, xoshiro256** and splitmix64 feeding a
 * histogram and a 64-bit multiply-mix reduction (Monte Carlo style, integer only).
 * Dominated by: 64-bit shifts, rotates, multiplies, small-table stores. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    uint64_t s0 = 0x0123456789abcdefULL, s1 = 0xfedcba9876543210ULL;        /* xorshift128+ */
    uint64_t x[4] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL, 0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    uint64_t sm = 42;                                                       /* splitmix64 */
    static uint32_t hist[1024];
    uint64_t mix = 0, inside = 0;
    long long n = 120000000LL * scale;
    for (long long i = 0; i < n; i++) {
        /* xorshift128+ */
        uint64_t a = s0, b = s1;
        s0 = b; a ^= a << 23; s1 = a ^ b ^ (a >> 17) ^ (b >> 26);
        uint64_t r1 = s1 + b;
        /* xoshiro256** */
        uint64_t r2 = rotl(x[1] * 5, 7) * 9;
        uint64_t t = x[1] << 17;
        x[2] ^= x[0]; x[3] ^= x[1]; x[1] ^= x[2]; x[0] ^= x[3]; x[2] ^= t; x[3] = rotl(x[3], 45);
        /* integer "Monte Carlo pi": point in quarter circle of radius 2^31 */
        uint64_t px = r1 >> 33, py = r2 >> 33;
        inside += (px * px + py * py) < (1ULL << 62);
        hist[(r1 ^ r2) & 1023]++;
        if ((i & 255) == 0) {
            uint64_t z = (sm += 0x9E3779B97F4A7C15ULL);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
            mix ^= z ^ (z >> 31);
        }
        mix = rotl(mix, 5) ^ (r1 * 0x9E3779B97F4A7C15ULL);
    }
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 1024; i++) { h ^= hist[i]; h *= 1099511628211ULL; }
    printf("CHECKSUM:%016llx:%016llx:%llu\n", (unsigned long long)h, (unsigned long long)mix, (unsigned long long)inside);
    return 0;
}
