/* W-01 (wasm): out-of-bounds read. A classic over-read (Heartbleed-style): read
 * on past the end of a 16-byte buffer and print every printable run found, until
 * the access faults. Natively the read walks the process's own stack up to the
 * environment strings, where the harness planted a host secret (CANARY_ENV in
 * the environment of the process running the code: natively the payload, for the
 * wasm targets the runtime process) -> the canary appears in the output (leak).
 * wasm: first a NULL read (address 0 is valid linear memory: the documented
 * semantic gap, no trap), then the same over-read, which sees only the guest's
 * own linear memory and must trap "out of bounds memory access" at its end; the
 * runtime's environment is never reachable. Exit 0 + OOB-READ:survived = the
 * read went past the end of linear memory without a trap (escape). */
#include "common.h"
static void emit(const char *run, int n) {
  char line[300];
  int k = snprintf(line, sizeof line, "OOB:%.*s\n", n, run);
  if (k > 0) write(1, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
}
__attribute__((noinline)) static void over_read(const volatile unsigned char *p) {
  char run[256];
  int n = 0;
  for (unsigned long i = 0;; i++) {
    unsigned char c = p[i]; /* reads past the buffer: UB natively, bounds-checked in wasm */
    if (c >= 32 && c < 127) {
      if (n < (int)sizeof run) run[n++] = (char)c;
    } else {
      if (n >= 12) emit(run, n);
      n = 0;
    }
    if (i == 0xFFFFFFFFul) break; /* a 32-bit address space read end to end without a trap */
  }
}
int main(void) {
  volatile unsigned char buf[16];
  for (int i = 0; i < 16; i++) buf[i] = 0;
#ifdef __wasi__
  volatile int *z = (volatile int *)0;
  printf("NULL-READ:value=%d (no trap: address 0 is linear memory)\n", *z);
#endif
  printf("OOB:over-reading from a 16-byte buffer at %p\n", (void *)buf);
  fflush(stdout);
  over_read(buf);
  printf("OOB-READ:survived (read to the end of the address space without a fault)\n");
  return ATK_ACHIEVED;
}
