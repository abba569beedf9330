/* exprparse: generate a large JSON-ish document (objects, arrays, strings with escapes,
 * integers, true/false/null) and arithmetic expressions as text, then tokenize and parse them
 * with recursive descent, evaluating/hashing as it goes.
 * Dominated by: byte-at-a-time branches (character classes), recursion, unpredictable control flow. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

static uint64_t rs = 0xC0FFEE123456789ULL;
static uint32_t rnd(uint32_t n) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (uint32_t)(rs >> 32) % n; }

static char *out; static size_t olen, ocap;
static void put(char c) { if (olen + 1 >= ocap) { ocap *= 2; out = realloc(out, ocap); } out[olen++] = c; }
static void puts_(const char *s) { while (*s) put(*s++); }

static void gen_value(int depth);
static void gen_string(void) {
    put('"');
    int n = 1 + rnd(12);
    for (int i = 0; i < n; i++) {
        uint32_t k = rnd(40);
        if (k == 0) { put('\\'); put('"'); }
        else if (k == 1) { put('\\'); put('n'); }
        else if (k == 2) { puts_("\\u00e9"); }
        else put((char)('a' + rnd(26)));
    }
    put('"');
}
static void gen_value(int depth) {
    uint32_t k = depth > 6 ? 2 + rnd(4) : rnd(6);
    char num[24];
    switch (k) {
    case 0: { put('{'); int n = rnd(6); for (int i = 0; i < n; i++) { if (i) put(','); gen_string(); put(':'); put(' '); gen_value(depth + 1); } put('}'); break; }
    case 1: { put('['); int n = rnd(8); for (int i = 0; i < n; i++) { if (i) { put(','); put(' '); } gen_value(depth + 1); } put(']'); break; }
    case 2: gen_string(); break;
    case 3: snprintf(num, sizeof num, "%d", (int)rnd(2000000) - 1000000); puts_(num); break;
    case 4: puts_(rnd(2) ? "true" : "false"); break;
    default: puts_("null"); break;
    }
}
static void gen_expr(int depth) {
    if (depth > 5 || rnd(3) == 0) { char num[16]; snprintf(num, sizeof num, "%u", rnd(1000)); puts_(num); return; }
    if (rnd(4) == 0) { put('('); gen_expr(depth + 1); put(')'); return; }
    gen_expr(depth + 1);
    static const char ops[] = "+-*%";
    put(' '); put(ops[rnd(4)]); put(' ');
    gen_expr(depth + 1);
}

/* ---- JSON parser: computes a structural hash ---- */
static const char *p;
static int err;
static uint64_t H(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ULL; }
static void ws(void) { while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++; }
static uint64_t pstring(void) {
    uint64_t h = 0xcbf29ce484222325ULL;
    if (*p != '"') { err = 1; return 0; }
    p++;
    while (*p != '"') {
        if (!*p) { err = 1; return 0; }
        if (*p == '\\') {
            p++;
            switch (*p) {
            case 'n': h = H(h, '\n'); p++; break;
            case '"': h = H(h, '"'); p++; break;
            case '\\': h = H(h, '\\'); p++; break;
            case 'u': { unsigned v = 0; p++; for (int i = 0; i < 4; i++, p++) {
                char c = *p; v = v * 16 + (c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0); }
                h = H(h, v); break; }
            default: err = 1; return 0;
            }
        } else h = H(h, (unsigned char)*p++);
    }
    p++;
    return h;
}
static uint64_t pvalue(void) {
    ws();
    uint64_t h = 0;
    if (*p == '{') {
        p++; ws(); h = H(h, '{');
        if (*p == '}') { p++; return h; }
        for (;;) {
            ws(); h = H(h, pstring()); ws();
            if (*p++ != ':') { err = 1; return 0; }
            h = H(h, pvalue()); ws();
            if (*p == ',') { p++; continue; }
            if (*p == '}') { p++; return h; }
            err = 1; return 0;
        }
    } else if (*p == '[') {
        p++; ws(); h = H(h, '[');
        if (*p == ']') { p++; return h; }
        for (;;) {
            h = H(h, pvalue()); ws();
            if (*p == ',') { p++; continue; }
            if (*p == ']') { p++; return h; }
            err = 1; return 0;
        }
    } else if (*p == '"') return pstring();
    else if (*p == '-' || (*p >= '0' && *p <= '9')) {
        int neg = *p == '-'; if (neg) p++;
        int64_t v = 0; while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
        return (uint64_t)(neg ? -v : v);
    } else if (!strncmp(p, "true", 4)) { p += 4; return 1; }
    else if (!strncmp(p, "false", 5)) { p += 5; return 2; }
    else if (!strncmp(p, "null", 4)) { p += 4; return 3; }
    err = 1; return 0;
}

/* ---- expression tokenizer + precedence-climbing evaluator (mod 1e9+7) ---- */
#define MODP 1000000007LL
enum { T_NUM, T_OP, T_LP, T_RP, T_END };
static int tk; static int64_t tv; static char top;
static void next(void) {
    while (*p == ' ') p++;
    if (*p >= '0' && *p <= '9') { tv = 0; while (*p >= '0' && *p <= '9') tv = tv * 10 + (*p++ - '0'); tk = T_NUM; }
    else if (*p == '+' || *p == '-' || *p == '*' || *p == '%') { top = *p++; tk = T_OP; }
    else if (*p == '(') { p++; tk = T_LP; }
    else if (*p == ')') { p++; tk = T_RP; }
    else tk = T_END;
}
static int prec(char o) { return o == '+' || o == '-' ? 1 : 2; }
static int64_t expr(int minp);
static int64_t atom(void) {
    if (tk == T_NUM) { int64_t v = tv; next(); return v; }
    if (tk == T_LP) { next(); int64_t v = expr(1); if (tk != T_RP) err = 1; next(); return v; }
    err = 1; return 0;
}
static int64_t expr(int minp) {
    int64_t l = atom();
    while (tk == T_OP && prec(top) >= minp) {
        char o = top; next();
        int64_t r = expr(prec(o) + 1);
        switch (o) {
        case '+': l = (l + r) % MODP; break;
        case '-': l = ((l - r) % MODP + MODP) % MODP; break;
        case '*': l = (l * r) % MODP; break;
        default: l = r ? l % r : l; break;
        }
    }
    return l;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    ocap = 1 << 20; out = malloc(ocap);
    /* JSON document: an array of many random values (~6 MB) */
    put('[');
    for (int i = 0; i < 60000; i++) { if (i) { put(','); put('\n'); } gen_value(0); }
    put(']'); put(0);
    char *json = out; size_t jlen = olen;
    out = NULL; olen = 0; ocap = 1 << 20; out = malloc(ocap);
    for (int i = 0; i < 40000; i++) { gen_expr(0); put('\n'); }
    put(0);
    char *exprs = out;

    uint64_t acc = jlen;
    for (int r = 0; r < 16 * scale; r++) {
        err = 0; p = json;
        acc = H(acc, pvalue());
        if (err) { printf("CHECKSUM:json-error\n"); return 1; }
        p = exprs;
        int64_t sum = 0;
        while (*p) {
            next(); sum = (sum * 31 + expr(1)) % MODP;
            if (err) { printf("CHECKSUM:expr-error\n"); return 1; }
            if (*p == '\n') p++;
        }
        acc = H(acc, (uint64_t)sum);
    }
    printf("CHECKSUM:%016llx\n", (unsigned long long)acc);
    free(json); free(exprs);
    return 0;
}
