/* bintrees: the binary-trees allocation benchmark: build/check/free many perfect binary trees
 * with malloc/free, plus one long-lived tree. Dominated by: the allocator (malloc/free), pointer chasing. */
#include <stdio.h>
#include <stdlib.h>

struct node { struct node *l, *r; };

static struct node *make(int d) {
    struct node *n = malloc(sizeof *n);
    if (!n) { printf("CHECKSUM:oom\n"); exit(1); }
    if (d > 0) { n->l = make(d - 1); n->r = make(d - 1); }
    else n->l = n->r = NULL;
    return n;
}
static long long check(const struct node *n) { return 1 + (n->l ? check(n->l) + check(n->r) : 0); }
static void del(struct node *n) { if (n->l) { del(n->l); del(n->r); } free(n); }

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    int maxd = 17;
    unsigned long long total = 0;
    for (int s = 0; s < scale; s++) {
        struct node *stretch = make(maxd + 1);
        total += check(stretch);
        del(stretch);
        struct node *longlived = make(maxd);
        for (int d = 4; d <= maxd; d += 2) {
            long long iters = 1LL << (maxd - d + 4);
            long long c = 0;
            for (long long i = 0; i < iters; i++) { struct node *t = make(d); c += check(t); del(t); }
            total = total * 3 + c;
        }
        total += check(longlived);
        del(longlived);
    }
    printf("CHECKSUM:%llu\n", total);
    return 0;
}
