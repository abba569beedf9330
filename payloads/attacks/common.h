/* common.h -- shared helpers for the isola-lab attack corpus (header-only).
 *
 * Evidence lines printed by the payloads (the harness decides verdicts):
 *   TOKEN:<data>              data read from a place that should be unreachable
 *   PROBE:<name> rc=.. errno=.. -> reachable|blocked   one errno fingerprint
 *   RESULT:reachable|blocked  overall verdict of an errno-class probe
 *   N/E: <reason>             not expressible on this target (exit 2)
 *   INFO:/LEAK:/...           free-form detail
 * Exit codes follow the catalogue contract (ATK_* below).
 * Builds with `clang -O2 -static -Wall` and `clang --target=wasm32-wasi -O2`.
 */
#ifndef ISOLA_ATTACK_COMMON_H
#define ISOLA_ATTACK_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __wasi__
#include <wasi/api.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#endif

#define ATK_ACHIEVED 0     /* attack achieved, proof printed          */
#define ATK_BLOCKED 1      /* attempted and denied                    */
#define ATK_NE 2           /* not expressible on this target          */
#define ATK_REACHABLE 3    /* probe only: precondition reachable      */
#define ATK_INCONCLUSIVE 4 /* could not tell                          */

#ifndef ENOTCAPABLE
#define ENOTCAPABLE 76
#endif

/* The N/E stub: `ATK_NE_MAIN("no fork in WASI")` replaces main() on wasm. */
#define ATK_NE_MAIN(reason)                                                    \
  int main(void) {                                                             \
    printf("N/E: %s\n", reason);                                               \
    fflush(stdout);                                                            \
    return ATK_NE;                                                             \
  }

static inline const char *atk_errname(int e) {
  switch (e) {
  case 0: return "OK";
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case ESRCH: return "ESRCH";
  case EIO: return "EIO";
  case EBADF: return "EBADF";
  case EAGAIN: return "EAGAIN";
  case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES";
  case EFAULT: return "EFAULT";
  case EBUSY: return "EBUSY";
  case EEXIST: return "EEXIST";
  case EXDEV: return "EXDEV";
  case ENODEV: return "ENODEV";
  case ENOTDIR: return "ENOTDIR";
  case EISDIR: return "EISDIR";
  case EINVAL: return "EINVAL";
  case EMFILE: return "EMFILE";
  case ENFILE: return "ENFILE";
  case ENOSPC: return "ENOSPC";
  case EROFS: return "EROFS";
  case ENOSYS: return "ENOSYS";
  case ELOOP: return "ELOOP";
  case ENOTSUP: return "ENOTSUP";
  case EAFNOSUPPORT: return "EAFNOSUPPORT";
  case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
  case ECONNREFUSED: return "ECONNREFUSED";
  case ENETUNREACH: return "ENETUNREACH";
  case ETIMEDOUT: return "ETIMEDOUT";
  case ENOTCAPABLE: return "ENOTCAPABLE";
  default: return "E?";
  }
}

/* Errno fingerprint per the contract: EPERM/ENOSYS (and the policy-shaped
 * EACCES/EROFS/ENOTCAPABLE) = blocked; success/EBADF/EFAULT/EINVAL/other = reachable. */
static inline int atk_is_blocked_errno(int e) {
  return e == EPERM || e == ENOSYS || e == EACCES || e == EROFS || e == ENOTCAPABLE;
}

/* Print one probe line; returns 1 when reachable. Call right after the syscall. */
static inline int atk_probe(const char *name, long rc, int err) {
  int e = rc < 0 ? err : 0;
  int reach = !atk_is_blocked_errno(e);
  printf("PROBE:%s rc=%ld errno=%s(%d) -> %s\n", name, rc, atk_errname(e), e,
         reach ? "reachable" : "blocked");
  fflush(stdout);
  return reach;
}

static inline int atk_result(int reachable) {
  printf("RESULT:%s\n", reachable ? "reachable" : "blocked");
  fflush(stdout);
  return reachable ? ATK_REACHABLE : ATK_BLOCKED;
}

/* Read up to cap-1 bytes of a file; NUL-terminated. Returns bytes or -errno. */
static inline long atk_read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -errno;
  long n = 0, r;
  while ((size_t)n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0) n += r;
  int e = errno;
  close(fd);
  if (r < 0 && n == 0) return -e;
  buf[n] = 0;
  return n;
}

/* Print "TOKEN:<data>" with one line per input line (non-printables -> '.'). */
static inline void atk_token(const char *data, long n) {
  fputs("TOKEN:", stdout);
  for (long i = 0; i < n; i++) {
    unsigned char c = (unsigned char)data[i];
    if (c == '\n' || c == 0) {
      if (i + 1 < n) fputs("\nTOKEN:", stdout);
    } else
      putchar((c >= 32 && c < 127) ? c : '.');
  }
  putchar('\n');
  fflush(stdout);
}

/* Try to read path; on success print TOKEN lines. Returns 1 on leak. */
static inline int atk_try_read(const char *label, const char *path) {
  static char buf[4096];
  long n = atk_read_file(path, buf, sizeof buf);
  printf("TRY:%s path=%s -> %s\n", label, path, n >= 0 ? "READ" : atk_errname((int)-n));
  if (n > 0) atk_token(buf, n);
  fflush(stdout);
  return n > 0;
}

/* "../../.../" x depth + path without its leading '/' */
static inline void atk_dotdot(char *out, size_t cap, const char *abs, int depth) {
  out[0] = 0;
  for (int i = 0; i < depth; i++) strncat(out, "../", cap - strlen(out) - 1);
  while (*abs == '/') abs++;
  strncat(out, abs, cap - strlen(out) - 1);
}

/* A writable directory: wasm -> the first preopen; native -> "." or /tmp. */
static inline const char *atk_workdir(void) {
  static char dir[512];
#ifdef __wasi__
  for (int fd = 3; fd < 64; fd++) {
    __wasi_prestat_t p;
    if (__wasi_fd_prestat_get(fd, &p) == 0 && p.u.dir.pr_name_len < sizeof dir) {
      memset(dir, 0, sizeof dir);
      if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)dir, p.u.dir.pr_name_len) == 0)
        return dir;
    }
  }
  return ".";
#else
  if (access(".", W_OK) == 0 && getcwd(dir, sizeof dir)) return dir;
  const char *t = getenv("TMPDIR");
  return (t && *t) ? t : "/tmp";
#endif
}

static inline double atk_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

#ifndef __wasi__
/* Connect to ip:port over TCP and send msg. Returns 1 if connected. */
static inline int atk_connect_send(const char *ip, int port, const char *msg) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    printf("CONNECT:%s:%d socket -> %s\n", ip, port, atk_errname(errno));
    return 0;
  }
  struct timeval tv = {2, 0};
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  inet_pton(AF_INET, ip, &sa.sin_addr);
  int ok = connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
  printf("CONNECT:%s:%d -> %s\n", ip, port, ok ? "CONNECTED" : atk_errname(errno));
  if (ok && msg) {
    ssize_t w = send(s, msg, strlen(msg), MSG_NOSIGNAL);
    printf("SENT:%zd bytes\n", w);
  }
  fflush(stdout);
  close(s);
  return ok;
}
#endif

#endif
