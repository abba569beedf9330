/* sort: quicksort (median-of-3, insertion sort for small runs) and bottom-up mergesort of
 * 2M pseudo-random 32-bit integers. Dominated by: data-dependent branches and memory traffic. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define N (2u << 20)

static void isort(int32_t *a, long n) {
    for (long i = 1; i < n; i++) {
        int32_t v = a[i]; long j = i - 1;
        while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

static void qsort_i32(int32_t *a, long n) {
    while (n > 24) {
        long m = n / 2;
        if (a[m] < a[0]) { int32_t t = a[m]; a[m] = a[0]; a[0] = t; }
        if (a[n - 1] < a[0]) { int32_t t = a[n - 1]; a[n - 1] = a[0]; a[0] = t; }
        if (a[n - 1] < a[m]) { int32_t t = a[n - 1]; a[n - 1] = a[m]; a[m] = t; }
        int32_t p = a[m];
        long i = 0, j = n - 1;
        for (;;) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i >= j) break;
            int32_t t = a[i]; a[i] = a[j]; a[j] = t;
            i++; j--;
        }
        /* recurse on the smaller part, loop on the larger */
        if (j + 1 < n - j - 1) { qsort_i32(a, j + 1); a += j + 1; n -= j + 1; }
        else { qsort_i32(a + j + 1, n - j - 1); n = j + 1; }
    }
    isort(a, n);
}

static void msort_i32(int32_t *a, int32_t *tmp, long n) {
    int32_t *src = a, *dst = tmp;
    for (long w = 1; w < n; w *= 2) {
        for (long lo = 0; lo < n; lo += 2 * w) {
            long mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            long i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = src[i] <= src[j] ? src[i++] : src[j++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        int32_t *t = src; src = dst; dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof(int32_t));
}

static uint64_t fold(const int32_t *a, long n) {
    uint64_t h = 1469598103934665603ULL;
    for (long i = 0; i < n; i += 1) { h ^= (uint32_t)a[i]; h *= 1099511628211ULL; }
    return h;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    int32_t *a = malloc(N * 4), *b = malloc(N * 4), *tmp = malloc(N * 4);
    uint32_t x = 2463534242u;
    uint64_t acc = 0;
    for (int r = 0; r < 2 * scale; r++) {
        for (uint32_t i = 0; i < N; i++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            a[i] = (int32_t)(r & 1 ? x % 100000u : x); /* odd rounds: many duplicates */
        }
        memcpy(b, a, N * 4);
        qsort_i32(a, N);
        msort_i32(b, tmp, N);
        for (uint32_t i = 1; i < N; i++) if (a[i - 1] > a[i] || a[i] != b[i]) { printf("CHECKSUM:unsorted\n"); return 1; }
        acc = acc * 31 + fold(a, N);
    }
    printf("CHECKSUM:%016llx\n", (unsigned long long)acc);
    return 0;
}
