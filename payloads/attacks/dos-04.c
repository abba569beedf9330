/* DOS-04 (resources): disk and inode fill, BOUNDED: 64 MiB in 1 MiB writes
 * plus 2000 empty files, in the workdir (WASI: first preopen) and /tmp, then
 * deletes everything it created. Native control: 64 MiB written (exit 0).
 * Contained: EROFS (read-only rootfs), ENOSPC/EDQUOT (size-limited tmpfs). */
#include "common.h"
static unsigned fill(const char *dir) {
  static char buf[1 << 16]; /* static: 64 KiB would overflow wasm's 64 KiB shadow stack */
  char path[700];
  memset(buf, 'D', sizeof buf);
  snprintf(path, sizeof path, "%s/.isola-dos04.bin", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) { printf("DISK:%s open -> %s\n", path, atk_errname(errno)); return 0; }
  unsigned mib = 0;
  for (; mib < 64; mib++) {
    int ok = 1;
    for (int i = 0; i < 16 && ok; i++) ok = write(fd, buf, sizeof buf) == (ssize_t)sizeof buf;
    if (!ok) { printf("DISK:write failed at %u MiB -> %s\n", mib, atk_errname(errno)); break; }
  }
  fsync(fd); close(fd);
  unsigned files = 0;
  for (; files < 2000; files++) {
    snprintf(path, sizeof path, "%s/.isola-dos04-%u", dir, files);
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (f < 0) { printf("DISK:inode fill stopped at %u -> %s\n", files, atk_errname(errno)); break; }
    close(f);
  }
  printf("DISK:%s wrote %u MiB and %u files\n", dir, mib, files); fflush(stdout);
  for (unsigned i = 0; i < files; i++) { snprintf(path, sizeof path, "%s/.isola-dos04-%u", dir, i); unlink(path); }
  snprintf(path, sizeof path, "%s/.isola-dos04.bin", dir); unlink(path);
  return mib;
}
int main(void) {
  unsigned a = fill(atk_workdir());
  unsigned b = strcmp(atk_workdir(), "/tmp") ? fill("/tmp") : 0;
  return (a >= 64 || b >= 64) ? ATK_ACHIEVED : ATK_BLOCKED;
}
