//! Facts about the host that policy needs (capability bounding set, oom_score_adj) and checks
//! of the bundle that need the filesystem (rootfs resolution, entrypoint magic bytes).

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use isola_policy::caps;
use oci_spec::runtime::Capability;

use crate::LinuxError;

/// Reads the runtime's own capability bounding set from `/proc/self/status`.
pub fn bounding_set() -> Result<HashSet<Capability>, LinuxError> {
    let status = fs::read_to_string("/proc/self/status")?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .ok_or_else(|| LinuxError("no CapBnd line in /proc/self/status".into()))?;
    let mask = u64::from_str_radix(hex.trim(), 16)
        .map_err(|e| LinuxError(format!("bad CapBnd {hex:?}: {e}")))?;
    Ok(all_capabilities().filter(|c| mask & (1u64 << caps::number(*c)) != 0).collect())
}

fn all_capabilities() -> impl Iterator<Item = Capability> {
    use std::str::FromStr;
    [
        "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE",
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER",
        "KILL", "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN",
        "NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW", "PERFMON", "SETGID", "SETFCAP", "SETPCAP",
        "SETUID", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT",
        "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "SYSLOG",
        "WAKE_ALARM",
    ]
    .into_iter()
    .filter_map(|n| Capability::from_str(n).ok())
}

/// The runtime's own oom_score_adj.
pub fn oom_score_adj() -> i32 {
    fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Resolves `root.path` against the bundle, following symlinks, and checks it is a directory.
pub fn resolve_rootfs(bundle: &Path, root: &Path) -> Result<PathBuf, LinuxError> {
    let joined = if root.is_absolute() { root.to_path_buf() } else { bundle.join(root) };
    let resolved = fs::canonicalize(&joined)
        .map_err(|e| LinuxError(format!("rootfs {}: {e}", joined.display())))?;
    if !resolved.is_dir() {
        return Err(LinuxError(format!("rootfs {} is not a directory", resolved.display())));
    }
    Ok(resolved)
}

/// Opens `path` as seen from inside `rootfs` (symlinks cannot leave it: openat2 RESOLVE_IN_ROOT).
/// Non-blocking, so a FIFO planted in the image cannot hang the runtime.
pub fn open_in_root(rootfs: &Path, path: &Path) -> std::io::Result<fs::File> {
    let root = fs::File::open(rootfs)?;
    let rel = path.strip_prefix("/").unwrap_or(path);
    let c_path = std::ffi::CString::new(rel.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: open_how is plain data; all-zero is its documented empty value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    use std::os::fd::AsRawFd;
    // SAFETY: valid fd, NUL-terminated path, a correctly sized open_how.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c_path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: openat2 returned a fresh fd that nothing else owns.
    Ok(fs::File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// Finds `args[0]` inside the rootfs: an absolute path as is, a bare name through `PATH`
/// from the process env (or the usual default), a relative path against `cwd`.
pub fn resolve_entrypoint(rootfs: &Path, arg0: &str, env: &[String], cwd: &Path) -> Option<PathBuf> {
    if arg0.starts_with('/') {
        return Some(PathBuf::from(arg0));
    }
    if arg0.contains('/') {
        return Some(cwd.join(arg0));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    path.split(':')
        .map(|dir| Path::new(dir).join(arg0))
        .find(|candidate| open_in_root(rootfs, candidate).is_ok())
}

/// Whether the file at `path` inside the rootfs starts with the wasm magic bytes.
pub fn is_wasm_file(rootfs: &Path, path: &Path) -> bool {
    let mut magic = [0u8; 4];
    open_in_root(rootfs, path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|_| &magic == isola_policy::mode::WASM_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounding_set_is_read() {
        let set = bounding_set().unwrap();
        assert!(set.contains(&Capability::Chown), "root's bounding set holds CAP_CHOWN");
    }

    #[test]
    fn symlinks_cannot_leave_the_rootfs_when_sniffing() {
        let dir = tempfile_dir();
        std::os::unix::fs::symlink("/proc/self/exe", dir.join("exe")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/passwd", dir.join("up")).unwrap();
        assert!(open_in_root(&dir, Path::new("/up")).is_err());
        fs::write(dir.join("m.wasm"), b"\0asm\x01\0\0\0").unwrap();
        assert!(is_wasm_file(&dir, Path::new("/m.wasm")));
        assert!(!is_wasm_file(&dir, Path::new("/exe")));
        fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("isola-host-test-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        d
    }
}

/// Reads a file of the caller's bundle (`config.json`), refusing anything but a regular file of
/// at most `max` bytes. Opened non-blocking, so a FIFO planted in its place cannot hang `create`
/// and a device cannot be read without end.
pub fn read_regular_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!("grew past {max} bytes while being read")));
    }
    Ok(bytes)
}

/// The home directory of `uid` in the image's `/etc/passwd`, or `/` (what runc gives a process
/// whose environment has no `HOME`). A missing, oversized or odd passwd file means `/`.
pub fn home_of(rootfs: &Path, uid: u32) -> String {
    use std::io::Read;
    let mut text = String::new();
    let read = open_in_root(rootfs, Path::new("/etc/passwd"))
        .and_then(|f| if f.metadata()?.is_file() { Ok(f) } else { Err(std::io::ErrorKind::InvalidInput.into()) })
        .and_then(|f| f.take(1 << 20).read_to_string(&mut text));
    if read.is_err() {
        return "/".into();
    }
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 7 && f[2].parse() == Ok(uid) && f[5].starts_with('/')).then(|| f[5].to_string())
        })
        .next()
        .unwrap_or_else(|| "/".into())
}
