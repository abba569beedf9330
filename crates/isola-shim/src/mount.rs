//! The rootfs mounts containerd hands over with `create` (an overlay of snapshot layers, or a
//! bind mount), mounted on `<bundle>/rootfs`. containerd-shim's own helper waits for its forked
//! mounter through the library's reaper, which this shim replaces (see reaper.rs); this one
//! waits for its child itself.

use std::ffi::CString;
use std::path::Path;

use nix::mount::MsFlags;

/// Mounts one of containerd's rootfs mounts on `target`.
pub fn mount_rootfs(fs_type: &str, source: &str, options: &[String], target: &Path) -> Result<(), String> {
    let (flags, data) = parse(options);
    let mut data = data.join(",");
    let mut chdir = None;
    // An overlay of many layers can pass the kernel's one-page limit on mount data: the
    // lowerdirs are then given relative to their common parent, which the mounter enters
    // first (as containerd's runc shim does).
    if fs_type == "overlay" && data.len() >= page_size() - 512 {
        if let Some((dir, compact)) = compact_lowerdir(&data) {
            chdir = Some(dir);
            data = compact;
        }
    }
    if data.len() >= page_size() {
        return Err(format!("mount of {target:?}: options of {} bytes exceed a page", data.len()));
    }
    let c = |s: &str| CString::new(s).map_err(|_| format!("mount of {target:?}: a NUL byte in {s:?}"));
    let (source, fs_type, data) = (c(source)?, c(fs_type)?, c(&data)?);
    let target_c = c(target.to_str().ok_or_else(|| format!("{target:?} is not UTF-8"))?)?;
    let chdir = chdir.map(|d| c(&d)).transpose()?;
    let base = flags & !(MsFlags::MS_SHARED | MsFlags::MS_SLAVE | MsFlags::MS_PRIVATE | MsFlags::MS_UNBINDABLE);
    // SAFETY: the child only makes syscalls (chdir, mount) on prepared C strings, then _exits.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => unsafe {
            if let Some(d) = &chdir {
                if libc::chdir(d.as_ptr()) != 0 {
                    libc::_exit(*libc::__errno_location());
                }
            }
            let data_ptr = if data.as_bytes().is_empty() { std::ptr::null() } else { data.as_ptr().cast() };
            if libc::mount(source.as_ptr(), target_c.as_ptr(), fs_type.as_ptr(), base.bits(), data_ptr) != 0 {
                libc::_exit(*libc::__errno_location());
            }
            // A read-only bind needs a remount to take.
            if base.contains(MsFlags::MS_BIND | MsFlags::MS_RDONLY)
                && libc::mount(std::ptr::null(), target_c.as_ptr(), std::ptr::null(), (base | MsFlags::MS_REMOUNT).bits(), std::ptr::null()) != 0
            {
                libc::_exit(*libc::__errno_location());
            }
            let propagation = flags & (MsFlags::MS_SHARED | MsFlags::MS_SLAVE | MsFlags::MS_PRIVATE | MsFlags::MS_UNBINDABLE);
            if !propagation.is_empty() && libc::mount(std::ptr::null(), target_c.as_ptr(), std::ptr::null(), propagation.bits(), std::ptr::null()) != 0 {
                libc::_exit(*libc::__errno_location());
            }
            libc::_exit(0)
        },
        pid => {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
                if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    return Err(format!("waiting for the mounter: {}", std::io::Error::last_os_error()));
                }
            }
            match (libc::WIFEXITED(status), libc::WEXITSTATUS(status)) {
                (true, 0) => Ok(()),
                (true, errno) => Err(format!("mounting {:?} on {}: {}", source, target.display(), std::io::Error::from_raw_os_error(errno))),
                _ => Err(format!("the mounter of {} died (status {status})", target.display())),
            }
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as usize
}

/// Mount flags from options (as mount(8) names them); the rest is filesystem data.
fn parse(options: &[String]) -> (MsFlags, Vec<&str>) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for o in options {
        let (set, clear) = match o.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "private" => (MsFlags::MS_PRIVATE, MsFlags::empty()),
            "rprivate" => (MsFlags::MS_PRIVATE | MsFlags::MS_REC, MsFlags::empty()),
            "slave" => (MsFlags::MS_SLAVE, MsFlags::empty()),
            "rslave" => (MsFlags::MS_SLAVE | MsFlags::MS_REC, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            other => {
                data.push(other);
                continue;
            }
        };
        flags = (flags | set) & !clear;
    }
    (flags, data)
}

/// `lowerdir=` with every layer relative to their common parent directory: (parent, data).
fn compact_lowerdir(data: &str) -> Option<(String, String)> {
    let mut parts: Vec<String> = data.split(',').map(str::to_owned).collect();
    let i = parts.iter().position(|p| p.starts_with("lowerdir="))?;
    let dirs: Vec<&str> = parts[i]["lowerdir=".len()..].split(':').collect();
    let first = Path::new(dirs.first()?);
    let mut common = first.parent()?.to_path_buf();
    while !dirs.iter().all(|d| Path::new(d).starts_with(&common)) {
        common = common.parent()?.to_path_buf();
    }
    if common == Path::new("/") {
        return None;
    }
    let rel: Vec<String> = dirs.iter().map(|d| Path::new(d).strip_prefix(&common).ok().map(|r| r.display().to_string())).collect::<Option<_>>()?;
    parts[i] = format!("lowerdir={}", rel.join(":"));
    Some((common.display().to_string(), parts.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_into_flags_and_data() {
        let opts: Vec<String> = ["rbind", "ro", "index=off", "nosuid", "rw"].iter().map(|s| s.to_string()).collect();
        let (flags, data) = parse(&opts);
        assert_eq!(flags, MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_NOSUID, "rw clears the earlier ro");
        assert_eq!(data, ["index=off"]);
    }

    #[test]
    fn long_lowerdirs_become_relative_to_their_parent() {
        let data = "index=off,workdir=/s/9/work,upperdir=/s/9/fs,lowerdir=/s/snapshots/1/fs:/s/snapshots/2/fs";
        let (dir, compact) = compact_lowerdir(data).unwrap();
        assert_eq!(dir, "/s/snapshots");
        assert_eq!(compact, "index=off,workdir=/s/9/work,upperdir=/s/9/fs,lowerdir=1/fs:2/fs");
        assert_eq!(compact_lowerdir("lowerdir=/a/fs:/b/fs"), None, "no common parent below /");
    }
}
