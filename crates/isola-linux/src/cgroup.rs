//! A container's cgroup by path: list its processes, update its limits, and remove it,
//! killing whatever is left. Used by `ps`, `update` and by `delete --force` after a runtime
//! died half-way through `create` (when libcontainer's own state may be missing).

use std::path::Path;
use std::time::{Duration, Instant};

use libcgroups::common::{create_cgroup_manager, AnyCgroupManager, CgroupConfig, CgroupManager, ControllerOpt};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::LinuxError;

fn manager(cgroup_path: &Path, systemd: bool, id: &str) -> Result<AnyCgroupManager, LinuxError> {
    create_cgroup_manager(CgroupConfig {
        cgroup_path: cgroup_path.to_path_buf(),
        systemd_cgroup: systemd,
        container_name: id.to_string(),
    })
    .map_err(|e| LinuxError::chain(&e))
}

/// Every pid in the container's cgroup.
pub fn pids(cgroup_path: &Path, systemd: bool, id: &str) -> Result<Vec<i32>, LinuxError> {
    let m = manager(cgroup_path, systemd, id)?;
    let mut pids: Vec<i32> = m
        .get_all_pids()
        .map_err(|e| LinuxError::chain(&e))?
        .into_iter()
        .map(|p| p.as_raw())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Applies new resource limits to a running container. `disable_oom_killer` is the container's
/// setting (v1 rewrites `memory.oom_control` whenever memory limits are applied).
pub fn update(cgroup_path: &Path, systemd: bool, id: &str, resources: &LinuxResources, disable_oom_killer: bool) -> Result<(), LinuxError> {
    let m = manager(cgroup_path, systemd, id)?;
    m.apply(&ControllerOpt { resources, disable_oom_killer, oom_score_adj: None, freezer_state: None })
        .map_err(|e| LinuxError::chain(&e))
}

/// How long `destroy` waits for killed processes to leave the cgroup, and under systemd for
/// the scope to go. A SIGKILLed process leaves its cgroup only after it has torn down its
/// mounts: ten thousand of them took seconds in an emulated (TCG) VM.
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// Kills every process in the cgroup and removes it; bounded by `EXIT_WAIT`.
pub fn destroy(cgroup_path: &Path, systemd: bool, id: &str) -> Result<(), LinuxError> {
    let m = manager(cgroup_path, systemd, id)?;
    let deadline = Instant::now() + EXIT_WAIT;
    while kill_all(cgroup_path, systemd, id) > 0 {
        if Instant::now() > deadline {
            return Err(LinuxError(format!("processes survive in cgroup {}", cgroup_path.display())));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if !systemd {
        remove_empty(cgroup_path);
    }
    m.remove().map_err(|e| LinuxError::chain(&e))?;
    if systemd {
        // Stopping the unit returns before systemd has removed the scope's cgroup: wait for it,
        // so that nothing is left when delete returns.
        let deadline = Instant::now() + EXIT_WAIT;
        while m.get_all_pids().is_ok() {
            if Instant::now() > deadline {
                return Err(LinuxError(format!("the systemd scope of cgroups path {} is still stopping", cgroup_path.display())));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    Ok(())
}

/// SIGKILLs every process of the container's cgroup and returns how many it found. On v1
/// every hierarchy is read, not only the one the manager lists pids from: a setup process
/// that is still attaching itself may be in some hierarchies and not yet in others.
pub fn kill_all(cgroup_path: &Path, systemd: bool, id: &str) -> usize {
    let mut found: Vec<i32> = manager(cgroup_path, systemd, id)
        .ok()
        .and_then(|m| m.get_all_pids().ok())
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.as_raw())
        .collect();
    if !systemd {
        found.extend(pids_in_every_hierarchy(cgroup_path));
    }
    found.sort_unstable();
    found.dedup();
    for &pid in &found {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    found.len()
}

/// The pids listed in `cgroup.procs` of this cgroup path, and of its sub-cgroups (`exec
/// --cgroup`), in every mounted hierarchy.
fn pids_in_every_hierarchy(cgroup_path: &Path) -> Vec<i32> {
    let mut dirs = Vec::new();
    for top in dirs_in_every_hierarchy(cgroup_path) {
        sub_cgroups(&top, &mut dirs);
        dirs.push(top);
    }
    dirs.iter()
        .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect::<Vec<i32>>())
        .collect()
}

/// This cgroup path's directory in every mounted hierarchy (v1: one per controller; v2: one).
fn dirs_in_every_hierarchy(cgroup_path: &Path) -> Vec<std::path::PathBuf> {
    let mut dirs = candidate_dirs(cgroup_path);
    dirs.retain(|d| d.is_dir());
    dirs
}

/// Where this cgroup path's directory would be in every mounted hierarchy, existing or not.
fn candidate_dirs(cgroup_path: &Path) -> Vec<std::path::PathBuf> {
    let rel = cgroup_path.strip_prefix("/").unwrap_or(cgroup_path);
    let mut dirs = vec![Path::new("/sys/fs/cgroup").join(rel)];
    if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
        dirs.extend(hierarchies.flatten().map(|h| h.path().join(rel)));
    }
    dirs
}

/// Every sub-cgroup under `dir`, deepest first (bounded depth: cgroup trees are shallow).
fn sub_cgroups(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
        if depth > 16 {
            return;
        }
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&entry.path(), depth + 1, out);
                out.push(entry.path());
            }
        }
    }
    walk(dir, 0, out);
}

/// Removes this cgroup path's directory in every hierarchy where it holds no process, with
/// the sub-cgroups an `exec --cgroup` made under it (deepest first; their processes are dead).
/// A directory that still holds a process stays, for the caller to kill and remove. One rmdir
/// per hierarchy in the usual case (no sub-cgroup): the tree is walked only when that fails.
pub fn remove_empty(cgroup_path: &Path) {
    for top in candidate_dirs(cgroup_path) {
        match std::fs::remove_dir(&top) {
            Ok(()) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => continue,
            Err(_) => {}
        }
        let mut subs = Vec::new();
        sub_cgroups(&top, &mut subs);
        if subs.is_empty() {
            continue; // busy with its own processes
        }
        for d in subs {
            let _ = std::fs::remove_dir(&d);
        }
        let _ = std::fs::remove_dir(&top);
    }
}

/// Whether the host runs cgroup v2 only (unified), where the OOM killer cannot be disabled.
pub fn is_unified() -> bool {
    matches!(libcgroups::common::get_cgroup_setup(), Ok(libcgroups::common::CgroupSetup::Unified))
}

/// Whether any controller still has a directory for this cgroup (v1: one per hierarchy).
pub fn exists(cgroup_path: &Path, systemd: bool, id: &str) -> bool {
    if systemd {
        // `slice:prefix:name` is no directory: the manager knows the scope's cgroup.
        return manager(cgroup_path, true, id).is_ok_and(|m| m.get_all_pids().is_ok());
    }
    let rel = cgroup_path.strip_prefix("/").unwrap_or(cgroup_path);
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|hierarchies| {
            hierarchies.flatten().any(|h| h.path().join(rel).is_dir())
        })
        .unwrap_or(false)
        || Path::new("/sys/fs/cgroup").join(rel).is_dir()
}

#[cfg(test)]
mod tests {
    use libcgroups::common::V1Attach;
    use nix::unistd::{getpid, Pid};

    /// The vendored libcgroups moves the caller by thread only when that loses nothing: the
    /// caller itself, single-threaded (libcontainer's intermediate process). Anything else
    /// goes through cgroup.procs as upstream does.
    #[test]
    fn v1_attach_moves_the_calling_thread_only_for_a_single_threaded_self() {
        assert_eq!(V1Attach::of(Pid::from_raw(1)), V1Attach::Process(Pid::from_raw(1)));
        let _second_thread = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        assert_eq!(V1Attach::of(getpid()), V1Attach::Process(getpid()), "a multi-threaded caller");
        // SAFETY: the child only reads /proc and exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = if V1Attach::of(getpid()) == V1Attach::CallingThread { 0 } else { 1 };
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "a forked (single-threaded) child moves by thread");
    }
}
