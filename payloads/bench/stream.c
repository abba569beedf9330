/* stream: STREAM-like copy / scale / add / triad over three 2M-double arrays (48 MiB total,
 * far larger than the caches). Dominated by: memory bandwidth (loads/stores, vectorisable). */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

#define N (2u << 20)

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    double *a = malloc(N * sizeof(double)), *b = malloc(N * sizeof(double)), *c = malloc(N * sizeof(double));
    for (uint32_t i = 0; i < N; i++) { a[i] = (double)(i & 1023) * 0.5; b[i] = 2.0; c[i] = 0.0; }
    const double q = 0.5; /* dyadic constants keep every value exact: order-independent */
    for (int r = 0; r < 60 * scale; r++) {
        for (uint32_t i = 0; i < N; i++) c[i] = a[i];                 /* copy  */
        for (uint32_t i = 0; i < N; i++) b[i] = q * c[i];             /* scale */
        for (uint32_t i = 0; i < N; i++) c[i] = a[i] + b[i];          /* add   */
        for (uint32_t i = 0; i < N; i++) a[i] = b[i] + q * c[i];      /* triad */
        a[(r * 7919u) % N] = (double)(r & 255);
    }
    double s = 0;
    for (uint32_t i = 0; i < N; i++) s += a[i] + 3.0 * b[i] - c[i];
    printf("CHECKSUM:%lld\n", (long long)(s * 1024.0));
    free(a); free(b); free(c);
    return 0;
}
