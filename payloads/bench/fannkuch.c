/* fannkuch: fannkuch-redux (n=10): for every permutation of 1..n, count prefix reversals
 * ("pancake flips") until 1 is first; report checksum and max flips.
 * Dominated by: tiny-array byte/int shuffles, short unpredictable loops. */
#include <stdio.h>
#include <stdlib.h>

static void fannkuch(int n, int *checksum, int *maxflips) {
    int perm[16], perm1[16], count[16];
    int maxf = 0, csum = 0, permcount = 0, r = n;
    for (int i = 0; i < n; i++) perm1[i] = i;
    for (;;) {
        while (r != 1) { count[r - 1] = r; r--; }
        for (int i = 0; i < n; i++) perm[i] = perm1[i];
        int flips = 0, k;
        while ((k = perm[0]) != 0) {
            for (int i = 0, j = k; i < j; i++, j--) { int t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
            flips++;
        }
        if (flips > maxf) maxf = flips;
        csum += (permcount % 2 == 0) ? flips : -flips;
        for (;;) {
            if (r == n) { *checksum = csum; *maxflips = maxf; return; }
            int p0 = perm1[0];
            for (int i = 0; i < r; i++) perm1[i] = perm1[i + 1];
            perm1[r] = p0;
            count[r]--;
            if (count[r] > 0) break;
            r++;
        }
        permcount++;
    }
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    long long acc = 0; int cs = 0, mf = 0;
    for (int s = 0; s < scale; s++) {
        for (int k = 0; k < 2; k++) {
            fannkuch(10, &cs, &mf);
            acc = acc * 131 + cs * 100 + mf;
        }
    }
    if (cs != 73196 || mf != 38) { printf("CHECKSUM:wrong:%d:%d\n", cs, mf); return 1; }
    printf("CHECKSUM:%d:%d:%lld\n", cs, mf, acc);
    return 0;
}
