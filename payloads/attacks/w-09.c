/* W-09 (wasm): import/proposal surface. The module imports functions outside
 * the preview1 allow-list: "wasi" "thread-spawn" (wasi-threads) and
 * "wasi:sockets/tcp-create-socket@0.2.0" "create-tcp-socket". Expected: the
 * runtime refuses to link/instantiate (no guest code runs: GUEST:started never
 * printed). If it links, the guest calls them: exit 0 = surface present (FAIL).
 * Native: N/E stub. */
#include "common.h"
#ifndef __wasi__
ATK_NE_MAIN("wasm import surface only")
#else
__attribute__((import_module("wasi"), import_name("thread-spawn"))) int isola_thread_spawn(int arg);
__attribute__((import_module("wasi:sockets/tcp-create-socket@0.2.0"), import_name("create-tcp-socket")))
int isola_create_tcp_socket(int family, int retptr);
int main(int argc, char **argv) {
  (void)argv;
  printf("GUEST:started (imports were linked!)\n"); fflush(stdout);
  if (argc >= 0) {
    int a = isola_thread_spawn(0);
    printf("SURFACE:thread-spawn returned %d\n", a); fflush(stdout);
    static int ret[4];
    int b = isola_create_tcp_socket(0, (int)(uintptr_t)ret);
    printf("SURFACE:create-tcp-socket returned %d\n", b);
  }
  return ATK_ACHIEVED;
}
#endif
