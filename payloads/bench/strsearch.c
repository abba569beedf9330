/* strsearch: substring search (naive and Boyer-Moore-Horspool, cross-checked) and a small
 * backtracking regex matcher (Kernighan/Pike: c . * ^ $ plus [class]) over 2 MiB of generated
 * text. Dominated by: byte compares, branches, recursion in the regex matcher. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define TLEN (2u << 20)

static uint32_t rs = 0x9e3779b9u;
static uint32_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 17; rs ^= rs << 5; return rs; }

static size_t count_naive(const char *t, size_t n, const char *pat, size_t m) {
    size_t c = 0;
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && t[i + j] == pat[j]) j++;
        if (j == m) c++;
    }
    return c;
}

static size_t count_bmh(const char *t, size_t n, const char *pat, size_t m) {
    size_t skip[256];
    for (int i = 0; i < 256; i++) skip[i] = m;
    for (size_t i = 0; i + 1 < m; i++) skip[(unsigned char)pat[i]] = m - 1 - i;
    size_t c = 0, i = 0;
    while (i + m <= n) {
        unsigned char last = (unsigned char)t[i + m - 1];
        if (last == (unsigned char)pat[m - 1] && memcmp(t + i, pat, m - 1) == 0) c++;
        i += skip[last];
    }
    return c;
}

/* regex: c matches itself, . any char, [abc] class, x* zero or more, ^ and $ anchors (per line) */
static int matchhere(const char *re, const char *t);
static int matchone(const char **rep, char c) {
    const char *re = *rep;
    if (*re == '[') {
        int ok = 0; re++;
        while (*re != ']') { if (*re == c) ok = 1; re++; }
        *rep = re + 1;
        return ok;
    }
    *rep = re + 1;
    return *re == '.' ? c != '\n' : *re == c;
}
static int matchstar(const char *atom, const char *rest, const char *t) {
    do {
        if (matchhere(rest, t)) return 1;
        const char *a = atom;
        if (*t == '\n' || *t == 0 || !matchone(&a, *t)) return 0;
        t++;
    } while (1);
}
static const char *atom_end(const char *re) {
    if (*re == '[') { while (*re != ']') re++; }
    return re + 1;
}
static int matchhere(const char *re, const char *t) {
    if (*re == 0) return 1;
    const char *ae = atom_end(re);
    if (*ae == '*') return matchstar(re, ae + 1, t);
    if (*re == '$' && re[1] == 0) return *t == '\n' || *t == 0;
    if (*t != 0 && *t != '\n') { const char *r = re; if (matchone(&r, *t)) return matchhere(r, t + 1); }
    return 0;
}
/* count lines matching re */
static size_t grep_count(const char *re, const char *t) {
    size_t c = 0;
    while (*t) {
        const char *line = t;
        int hit = 0;
        if (*re == '^') hit = matchhere(re + 1, line);
        else { const char *s = line; do { if (matchhere(re, s)) { hit = 1; break; } } while (*s != '\n' && *s++ != 0); }
        c += hit;
        while (*t && *t != '\n') t++;
        if (*t) t++;
    }
    return c;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    static const char *words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "isola",
        "sandbox", "wasm", "native", "kernel", "container", "runtime", "abracadabra", "aaab", "abab"};
    const int nw = sizeof words / sizeof words[0];
    char *text = malloc(TLEN + 64);
    size_t n = 0; int col = 0;
    while (n < TLEN) {
        const char *w = words[rnd() % nw];
        size_t l = strlen(w);
        memcpy(text + n, w, l); n += l; col += (int)l;
        if (col > 60 + (int)(rnd() % 20)) { text[n++] = '\n'; col = 0; } else text[n++] = ' ';
    }
    text[n] = 0;
    static const char *pats[] = {"fox", "abracadabra", "aaab", "lazy dog", "wasm native", "abab abab", "x"};
    static const char *res[] = {"^the.*dog$", "qu[aeiou]ck.*fox", "a*b.*isola", "^[abc]*a.*ker*nel", "o.*o.*o.*z"};
    uint64_t acc = 0;
    for (int r = 0; r < 2 * scale; r++) {
        for (unsigned i = 0; i < sizeof pats / sizeof *pats; i++) {
            size_t m = strlen(pats[i]);
            size_t a = count_naive(text, n, pats[i], m);
            size_t b = count_bmh(text, n, pats[i], m);
            if (a != b) { printf("CHECKSUM:search-mismatch\n"); return 1; }
            acc = acc * 1000003 + a;
        }
        for (unsigned i = 0; i < sizeof res / sizeof *res; i++) acc = acc * 1000003 + grep_count(res[i], text);
        text[(r * 104729u) % n] = 'z';
    }
    printf("CHECKSUM:%016llx\n", (unsigned long long)acc);
    free(text);
    return 0;
}
