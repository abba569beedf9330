/* matmul: dense double-precision matrix multiply C = A*B (i-k-j loop order).
 * Dominated by: FP multiply-add throughput, auto-vectorisable inner loop. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

#define N 512

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
/* exact small dyadic values in [-1,1): sums stay exactly representable-ish and order-independent enough */
static double rnd(void) { return ((double)(rng() >> 53) - 1024.0) / 1024.0; }

static double A[N * N], B[N * N], C[N * N];

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    for (int i = 0; i < N * N; i++) { A[i] = rnd(); B[i] = rnd(); }
    double total = 0.0;
    for (int rep = 0; rep < 16 * scale; rep++) {
        for (int i = 0; i < N * N; i++) C[i] = 0.0;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < N; k++) {
                double a = A[i * N + k];
                double *c = &C[i * N];
                const double *b = &B[k * N];
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            }
        double tr = 0.0;
        for (int i = 0; i < N; i++) tr += C[i * N + (i * 7 + rep) % N];
        total += tr;
        /* feed back so repetitions are not redundant */
        A[rep % (N * N)] = (double)((int64_t)(C[(rep * 31) % (N * N)] * 1024.0) % 1024) / 1024.0;
    }
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < N * N; i += 97) {
        h ^= (uint64_t)(int64_t)(C[i] * 1048576.0);
        h *= 1099511628211ULL;
    }
    printf("CHECKSUM:%016llx:%lld\n", (unsigned long long)h, (long long)(total * 1e6));
    return 0;
}
