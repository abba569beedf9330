/* lu: LU decomposition with partial pivoting (Doolittle, in place), then a
 * forward/back solve. Dominated by: FP multiply-subtract on rows (rank-1 updates). */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <math.h>

#define N 640

static uint64_t rng_state = 0x1234567887654321ULL;
static uint64_t rng(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static double rnd(void) { return (double)(rng() >> 11) * (1.0 / 9007199254740992.0) - 0.5; }

static double A[N][N], A0[N][N], b[N], x[N];
static int piv[N];

static void lu(void) {
    for (int i = 0; i < N; i++) piv[i] = i;
    for (int k = 0; k < N; k++) {
        int p = k; double mx = fabs(A[k][k]);
        for (int i = k + 1; i < N; i++) { double v = fabs(A[i][k]); if (v > mx) { mx = v; p = i; } }
        if (p != k) {
            for (int j = 0; j < N; j++) { double t = A[k][j]; A[k][j] = A[p][j]; A[p][j] = t; }
            int t = piv[k]; piv[k] = piv[p]; piv[p] = t;
        }
        double inv = 1.0 / A[k][k];
        for (int i = k + 1; i < N; i++) {
            double l = A[i][k] * inv;
            A[i][k] = l;
            double *ri = &A[i][0]; const double *rk = &A[k][0];
            for (int j = k + 1; j < N; j++) ri[j] -= l * rk[j];
        }
    }
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    for (int i = 0; i < N; i++) for (int j = 0; j < N; j++) A0[i][j] = rnd() + (i == j ? 4.0 : 0.0);
    for (int i = 0; i < N; i++) b[i] = rnd();
    double acc = 0.0;
    for (int rep = 0; rep < 24 * scale; rep++) {
        for (int i = 0; i < N; i++) for (int j = 0; j < N; j++) A[i][j] = A0[i][j];
        A[rep % N][(rep * 7) % N] += 0.25;
        lu();
        /* solve L U x = P b */
        for (int i = 0; i < N; i++) {
            double s = b[piv[i]];
            for (int j = 0; j < i; j++) s -= A[i][j] * x[j];
            x[i] = s;
        }
        for (int i = N - 1; i >= 0; i--) {
            double s = x[i];
            for (int j = i + 1; j < N; j++) s -= A[i][j] * x[j];
            x[i] = s / A[i][i];
        }
        for (int i = 0; i < N; i++) acc += x[i] * (double)(i % 13 + 1);
    }
    printf("CHECKSUM:%lld\n", (long long)llround(acc * 1e6));
    return 0;
}
