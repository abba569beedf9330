//! A container's cgroup by path: list its processes, update its limits, and remove it,
//! killing whatever is left. Used by `ps`, `update` and by `delete --force` after a runtime
//! died half-way through `create` (when libcontainer's own state may be missing).

use std::path::Path;
use std::time::{Duration, Instant};

use libcgroups::common::{create_cgroup_manager, AnyCgroupManager, CgroupConfig, CgroupManager, ControllerOpt};
use nix::sys::signal::{kill, Signal};
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

/// Applies new resource limits to a running container.
pub fn update(cgroup_path: &Path, systemd: bool, id: &str, resources: &LinuxResources) -> Result<(), LinuxError> {
    let m = manager(cgroup_path, systemd, id)?;
    m.apply(&ControllerOpt { resources, disable_oom_killer: false, oom_score_adj: None, freezer_state: None })
        .map_err(|e| LinuxError::chain(&e))
}

/// Kills every process in the cgroup and removes it; bounded to two seconds.
pub fn destroy(cgroup_path: &Path, systemd: bool, id: &str) -> Result<(), LinuxError> {
    let m = manager(cgroup_path, systemd, id)?;
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let pids = m.get_all_pids().unwrap_or_default();
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            let _ = kill(pid, Signal::SIGKILL);
        }
        if Instant::now() > deadline {
            return Err(LinuxError(format!("processes survive in cgroup {}", cgroup_path.display())));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    m.remove().map_err(|e| LinuxError::chain(&e))
}

/// Whether any controller still has a directory for this cgroup (v1: one per hierarchy).
pub fn exists(cgroup_path: &Path) -> bool {
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
