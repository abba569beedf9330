/* interp: a tiny stack-based bytecode VM (switch dispatch) running three programs:
 * a prime sieve-by-trial-division, a Collatz length search and a recursive-free fib loop.
 * Dominated by: indirect branches / jump tables, unpredictable control flow, small loads/stores. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

enum { PUSH, LOAD, STORE, ADD, SUB, MUL, DIV, MOD, LT, EQ, JMP, JZ, JNZ, DUP, POP, HALT, INC, SHR, AND };

typedef int64_t val;

static val run(const int32_t *code, val *vars) {
    val stack[64]; int sp = 0; int pc = 0;
    for (;;) {
        int32_t op = code[pc++];
        switch (op) {
        case PUSH: stack[sp++] = code[pc++]; break;
        case LOAD: stack[sp++] = vars[code[pc++]]; break;
        case STORE: vars[code[pc++]] = stack[--sp]; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case DIV: sp--; stack[sp - 1] /= stack[sp]; break;
        case MOD: sp--; stack[sp - 1] %= stack[sp]; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case EQ: sp--; stack[sp - 1] = stack[sp - 1] == stack[sp]; break;
        case JMP: pc = code[pc]; break;
        case JZ: if (stack[--sp] == 0) pc = code[pc]; else pc++; break;
        case JNZ: if (stack[--sp] != 0) pc = code[pc]; else pc++; break;
        case DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case POP: sp--; break;
        case INC: vars[code[pc++]]++; break;
        case SHR: sp--; stack[sp - 1] >>= stack[sp]; break;
        case AND: sp--; stack[sp - 1] &= stack[sp]; break;
        case HALT: return sp ? stack[sp - 1] : 0;
        default: return -1;
        }
    }
}

/* A tiny assembler with labels: emit() appends words, label references are patched at the end. */
static int32_t code_buf[3][256];
static int ncode;
static int32_t *cur;
static int labels[32], nfix, fix_at[64], fix_lbl[64];
static void begin(int32_t *buf) { cur = buf; ncode = 0; nfix = 0; }
static void e1(int32_t op) { cur[ncode++] = op; }
static void e2(int32_t op, int32_t arg) { cur[ncode++] = op; cur[ncode++] = arg; }
static void jmp(int32_t op, int lbl) { cur[ncode++] = op; fix_at[nfix] = ncode; fix_lbl[nfix++] = lbl; cur[ncode++] = -1; }
static void label(int l) { labels[l] = ncode; }
static void end(void) { for (int i = 0; i < nfix; i++) cur[fix_at[i]] = labels[fix_lbl[i]]; }

/* Program 0: count primes < v0 by trial division. v1=n v2=d v3=count v4=isprime */
static void asm_primes(void) {
    enum { OUTER, INNER, NOTP, DONE, END };
    begin(code_buf[0]);
    e2(PUSH, 2); e2(STORE, 1);
    label(OUTER); e2(LOAD, 1); e2(LOAD, 0); e1(LT); jmp(JZ, END);
    e2(PUSH, 1); e2(STORE, 4); e2(PUSH, 2); e2(STORE, 2);
    label(INNER); e2(LOAD, 2); e2(LOAD, 2); e1(MUL); e2(LOAD, 1); e2(PUSH, 1); e1(ADD); e1(LT); jmp(JZ, DONE);
    e2(LOAD, 1); e2(LOAD, 2); e1(MOD); jmp(JZ, NOTP);
    e2(INC, 2); jmp(JMP, INNER);
    label(NOTP); e2(PUSH, 0); e2(STORE, 4);
    label(DONE); e2(LOAD, 3); e2(LOAD, 4); e1(ADD); e2(STORE, 3); e2(INC, 1); jmp(JMP, OUTER);
    label(END); e2(LOAD, 3); e1(HALT);
    end();
}
/* Program 1: total Collatz steps for n in [1, v0). v1=n v2=x v3=total */
static void asm_collatz(void) {
    enum { L, L2, EVEN, NEXT, END };
    begin(code_buf[1]);
    e2(PUSH, 1); e2(STORE, 1);
    label(L); e2(LOAD, 1); e2(LOAD, 0); e1(LT); jmp(JZ, END);
    e2(LOAD, 1); e2(STORE, 2);
    label(L2); e2(LOAD, 2); e2(PUSH, 1); e1(EQ); jmp(JNZ, NEXT);
    e2(INC, 3); e2(LOAD, 2); e2(PUSH, 1); e1(AND); jmp(JZ, EVEN);
    e2(LOAD, 2); e2(PUSH, 3); e1(MUL); e2(PUSH, 1); e1(ADD); e2(STORE, 2); jmp(JMP, L2);
    label(EVEN); e2(LOAD, 2); e2(PUSH, 1); e1(SHR); e2(STORE, 2); jmp(JMP, L2);
    label(NEXT); e2(INC, 1); jmp(JMP, L);
    label(END); e2(LOAD, 3); e1(HALT);
    end();
}
/* Program 2: fib mod 1000003, v0 iterations. v1=a v2=b v3=i v4=t */
static void asm_fib(void) {
    enum { L, END };
    begin(code_buf[2]);
    e2(PUSH, 0); e2(STORE, 1); e2(PUSH, 1); e2(STORE, 2);
    label(L); e2(LOAD, 3); e2(LOAD, 0); e1(LT); jmp(JZ, END);
    e2(LOAD, 1); e2(LOAD, 2); e1(ADD); e2(PUSH, 1000003); e1(MOD); e2(STORE, 4);
    e2(LOAD, 2); e2(STORE, 1); e2(LOAD, 4); e2(STORE, 2); e2(INC, 3); jmp(JMP, L);
    label(END); e2(LOAD, 1); e1(HALT);
    end();
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    val vars[16];
    asm_primes(); asm_collatz(); asm_fib();
    const int32_t *primes = code_buf[0], *collatz = code_buf[1], *fib = code_buf[2];

    uint64_t acc = 0;
    for (int s = 0; s < scale; s++) {
        for (int i = 0; i < 16; i++) vars[i] = 0;
        vars[0] = 150000 + s;
        val p = run(primes, vars);
        for (int i = 0; i < 16; i++) vars[i] = 0;
        vars[0] = 150000 + s;
        val c = run(collatz, vars);
        for (int i = 0; i < 16; i++) vars[i] = 0;
        vars[0] = 3000000 + s;
        val f = run(fib, vars);
        acc = acc * 1000003 + (uint64_t)p * 7 + (uint64_t)c * 13 + (uint64_t)f;
        if (s == 0 && p != 13848) { printf("CHECKSUM:badprimes:%lld\n", (long long)p); return 1; }
    }
    printf("CHECKSUM:%016llx\n", (unsigned long long)acc);
    return 0;
}
