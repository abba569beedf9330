/* spectralnorm: spectral norm of the infinite matrix A(i,j)=1/((i+j)(i+j+1)/2+i+1),
 * by power iteration. Dominated by: FP division and multiply-add (int->double conversion). */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

#define N 3000

static double u[N], v[N], t[N];

static inline double A(int i, int j) { return 1.0 / (double)((i + j) * (i + j + 1) / 2 + i + 1); }

static void mulAv(const double *x, double *y) {
    for (int i = 0; i < N; i++) { double s = 0; for (int j = 0; j < N; j++) s += A(i, j) * x[j]; y[i] = s; }
}
static void mulAtv(const double *x, double *y) {
    for (int i = 0; i < N; i++) { double s = 0; for (int j = 0; j < N; j++) s += A(j, i) * x[j]; y[i] = s; }
}
static void mulAtAv(const double *x, double *y) { mulAv(x, t); mulAtv(t, y); }

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    double acc = 0;
    for (int r = 0; r < scale; r++) {
        for (int i = 0; i < N; i++) u[i] = 1.0;
        for (int i = 0; i < 10; i++) { mulAtAv(u, v); mulAtAv(v, u); }
        double vBv = 0, vv = 0;
        for (int i = 0; i < N; i++) { vBv += u[i] * v[i]; vv += v[i] * v[i]; }
        acc += sqrt(vBv / vv);
    }
    printf("CHECKSUM:%.9f\n", acc);
    return 0;
}
