//! The wasm guest's `/`: the container's filesystem as its mounts make it, without any kernel
//! pseudo-filesystem. Built in the container's init while it still holds its privileges (after
//! the rootfs, masks and read-only paths, before capabilities are dropped), as a tree of bind
//! mounts at [`GUEST_ROOT`] in the container's own /dev, which the guest cannot reach.
//!
//! Why mounts and not a filter in the WASI layer: the kernel then resolves every route (`..`,
//! symlinks, renames, hard links) inside a tree that simply has no procfs, sysfs, devtmpfs or
//! cgroupfs in it, so there is no path check to get wrong. The wasm host itself keeps the
//! container's real /proc, /sys and /dev for its own setup.
//!
//! How: the root mount alone (a non-recursive bind, so none of its submounts) is bound at
//! [`GUEST_ROOT`] and made private; then each other mount of the container, in mount order, is
//! bound at its own path inside it (a bind keeps the mount's flags: a read-only mount stays
//! read-only), except mounts under /proc, /sys and /dev, which the guest sees as the rootfs's
//! own empty directories. A pseudo-filesystem mounted anywhere else (a bind of /proc), or a
//! device node bound over a file (a masked path is /dev/null), is covered by an empty read-only
//! directory or file, so what it hid stays hidden. Every
//! mount of the view is nodev, nosuid and noexec: a guest opens no device node.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

/// Where the guest's root is built, inside the container's /dev.
pub const GUEST_ROOT: &str = "/dev/.isola-guest-root";

/// An empty file that covers, in the view, a file mount of a pseudo-filesystem or a device node
/// (a masked path).
const EMPTY_FILE: &str = "/dev/.isola-guest-empty";

/// Filesystem types the guest never sees, wherever they are mounted.
const PSEUDO_TYPES: &[&str] = &[
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "mqueue", "debugfs", "tracefs", "securityfs", "bpf",
    "configfs", "fusectl", "pstore", "binfmt_misc", "efivarfs", "hugetlbfs", "nsfs", "autofs", "rpc_pipefs",
    "selinuxfs",
];

/// Trees the guest sees only as the rootfs's own (normally empty) directories.
const HIDDEN_TREES: &[&str] = &["/proc", "/sys", "/dev"];

/// One line of /proc/self/mountinfo: where the mount is and what filesystem it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub point: PathBuf,
    pub fstype: String,
}

/// Parses /proc/self/mountinfo (mount points unescaped: `\040` is a space).
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let fstype = right.split(' ').next()?;
            Some(MountEntry { point: PathBuf::from(unescape(point)), fstype: fstype.to_string() })
        })
        .collect()
}

fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            out.push((bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the view does with one mount of the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Bound at its own path in the view.
    Bind(PathBuf),
    /// A pseudo-filesystem outside the hidden trees: covered by an empty directory or file.
    Cover(PathBuf),
}

/// The steps for the container's mounts (`/` itself excluded), in mount order: mounts under
/// the hidden trees are left out, and so is anything mounted inside a covered one.
pub fn plan(mounts: &[MountEntry]) -> Vec<Step> {
    let under = |p: &Path, tree: &Path| p == tree || p.starts_with(tree);
    let mut covered: Vec<PathBuf> = Vec::new();
    let mut steps = Vec::new();
    for m in mounts {
        let p = &m.point;
        if p == Path::new("/") || !p.is_absolute() || HIDDEN_TREES.iter().any(|t| under(p, Path::new(t))) {
            continue;
        }
        if covered.iter().any(|c| p.starts_with(c) && p != c) {
            continue;
        }
        if PSEUDO_TYPES.contains(&m.fstype.as_str()) {
            covered.push(p.clone());
            steps.push(Step::Cover(p.clone()));
        } else {
            steps.push(Step::Bind(p.clone()));
        }
    }
    steps
}

/// Builds the guest's root at [`GUEST_ROOT`] from the container's mounts. Must run in the
/// container's mount namespace, after `pivot_root`, with CAP_SYS_ADMIN.
pub fn build() -> Result<PathBuf, String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
    let mounts = parse_mountinfo(&mountinfo);
    let dev_is_tmpfs = mounts.iter().any(|m| m.point == Path::new("/dev") && m.fstype == "tmpfs");
    if !dev_is_tmpfs {
        // A spec without a /dev tmpfs: stage on a private one (the wasm host needs no device).
        mount(Some("tmpfs"), "/dev", Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, Some("mode=755,size=64k"))
            .map_err(|e| format!("mounting a tmpfs on /dev to stage the guest's root: {e}"))?;
    }
    let root = Path::new(GUEST_ROOT);
    std::fs::create_dir(root).map_err(|e| format!("creating {GUEST_ROOT}: {e}"))?;
    bind(Path::new("/"), root)?;
    mount(None::<&str>, root, None::<&str>, MsFlags::MS_PRIVATE | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| format!("making {GUEST_ROOT} private: {e}"))?;
    harden(root)?;
    for step in plan(&mounts) {
        match step {
            // A device node bound over a path (a masked file is /dev/null): an empty file.
            Step::Bind(point) if is_device(&point) => cover(&point, &in_view(&point))?,
            Step::Bind(point) => {
                let target = in_view(&point);
                bind(&point, &target)?;
                harden(&target)?;
            }
            Step::Cover(point) => cover(&point, &in_view(&point))?,
        }
    }
    Ok(root.to_path_buf())
}

fn is_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).map(|m| m.file_type().is_char_device() || m.file_type().is_block_device()).unwrap_or(false)
}

fn in_view(point: &Path) -> PathBuf {
    Path::new(GUEST_ROOT).join(point.strip_prefix("/").unwrap_or(point))
}

fn bind(source: &Path, target: &Path) -> Result<(), String> {
    mount(Some(source), target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| format!("binding {} into the guest's root: {e}", source.display()))
}

/// Remounts a bind nodev, nosuid and noexec, keeping its other flags (read-only above all).
fn harden(target: &Path) -> Result<(), String> {
    let flags = current_flags(target)? | MsFlags::MS_NODEV | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount(None::<&str>, target, None::<&str>, MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags, None::<&str>)
        .map_err(|e| format!("remounting {} nodev,nosuid,noexec: {e}", target.display()))
}

/// A pseudo-filesystem outside the hidden trees: an empty read-only directory (tmpfs) or an
/// empty read-only file over it in the view.
fn cover(point: &Path, target: &Path) -> Result<(), String> {
    let fail = |e: nix::Error| format!("covering {} in the guest's root: {e}", point.display());
    let ro = MsFlags::MS_RDONLY | MsFlags::MS_NODEV | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    if std::fs::symlink_metadata(target).map(|m| m.is_dir()).unwrap_or(true) {
        return mount(Some("tmpfs"), target, Some("tmpfs"), ro, Some("mode=555,size=4k")).map_err(fail);
    }
    if !Path::new(EMPTY_FILE).exists() {
        std::fs::write(EMPTY_FILE, b"").map_err(|e| format!("creating {EMPTY_FILE}: {e}"))?;
    }
    mount(Some(EMPTY_FILE), target, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(fail)?;
    mount(None::<&str>, target, None::<&str>, MsFlags::MS_REMOUNT | MsFlags::MS_BIND | ro, None::<&str>).map_err(fail)
}

/// The per-mount flags of the mount at `path`, as mount(2) flags.
fn current_flags(path: &Path) -> Result<MsFlags, String> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| "a mount point with a NUL byte".to_string())?;
    // SAFETY: statvfs writes into a zeroed struct we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(format!("statvfs {}: {}", path.display(), std::io::Error::last_os_error()));
    }
    let pairs = [
        (libc::ST_RDONLY, MsFlags::MS_RDONLY),
        (libc::ST_NOSUID, MsFlags::MS_NOSUID),
        (libc::ST_NODEV, MsFlags::MS_NODEV),
        (libc::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (libc::ST_NOATIME, MsFlags::MS_NOATIME),
        (libc::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (libc::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    Ok(pairs.iter().filter(|(st_flag, _)| st.f_flag & st_flag != 0).fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(point: &str, fstype: &str) -> MountEntry {
        MountEntry { point: PathBuf::from(point), fstype: fstype.into() }
    }

    #[test]
    fn mountinfo_points_are_unescaped() {
        let text = "22 1 0:21 / /my\\040dir rw,relatime - tmpfs tmpfs rw\n23 1 0:4 / /proc rw - proc proc rw\n";
        assert_eq!(parse_mountinfo(text), vec![entry("/my dir", "tmpfs"), entry("/proc", "proc")]);
    }

    #[test]
    fn hidden_trees_are_left_out_and_pseudo_filesystems_elsewhere_covered() {
        let mounts = [
            entry("/", "overlay"),
            entry("/proc", "proc"),
            entry("/proc/sys", "proc"),
            entry("/dev", "tmpfs"),
            entry("/dev/shm", "tmpfs"),
            entry("/sys", "sysfs"),
            entry("/sys/fs/cgroup", "cgroup2"),
            entry("/tmp", "tmpfs"),
            entry("/etc/hosts", "ext4"),
            entry("/mnt/p", "proc"),
            entry("/mnt/p/sys", "proc"),
            entry("/secret", "devtmpfs"),
            entry("/devices", "ext4"),
        ];
        assert_eq!(
            plan(&mounts),
            vec![
                Step::Bind("/tmp".into()),
                Step::Bind("/etc/hosts".into()),
                Step::Cover("/mnt/p".into()),
                Step::Cover("/secret".into()),
                Step::Bind("/devices".into()),
            ]
        );
    }
}
