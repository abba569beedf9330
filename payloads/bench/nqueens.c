/* nqueens: count all solutions of the N-queens problem for N=8..14 with bitmask backtracking.
 * Dominated by: bit manipulation (x & -x, popcount-free), recursion, branch prediction. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

static uint64_t solve(uint32_t all, uint32_t cols, uint32_t d1, uint32_t d2) {
    if (cols == all) return 1;
    uint64_t n = 0;
    uint32_t avail = all & ~(cols | d1 | d2);
    while (avail) {
        uint32_t bit = avail & (0u - avail);
        avail ^= bit;
        n += solve(all, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
    }
    return n;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    static const uint64_t expect[] = {0, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712, 365596};
    uint64_t acc = 0;
    for (int s = 0; s < scale; s++)
        for (int n = 8; n <= 14; n++) {
            uint64_t c = solve((1u << n) - 1, 0, 0, 0);
            if (c != expect[n]) { printf("CHECKSUM:wrong:%d:%llu\n", n, (unsigned long long)c); return 1; }
            acc = acc * 1000003 + c;
        }
    printf("CHECKSUM:%llu\n", (unsigned long long)acc);
    return 0;
}
