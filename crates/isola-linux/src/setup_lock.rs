//! The setup lock: a shared flock on `<state dir>/setup.lock`, taken by `create` and `exec`
//! before libcontainer forks. The forked intermediate and init processes inherit it and drop it
//! when the workload starts (a Linux workload's exec closes it), so it is free exactly when no
//! process is still setting the container up. `start` waits for it, so it returns only once the
//! workload runs, as runc's does. `delete` waits for it before removing the cgroup: a setup
//! process orphaned by a SIGKILLed runtime would otherwise go on creating and joining cgroups
//! behind the cleanup.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::{cgroup, LinuxError};

const FILE: &str = "setup.lock";

/// The descriptor of the lock this process holds, for its forked setup processes to close.
static INHERITED_FD: AtomicI32 = AtomicI32::new(-1);

/// The setup lock held by this runtime process (and, once it forks, by its setup processes);
/// dropping it closes this process's descriptor.
pub struct SetupLock {
    _file: File,
}

impl SetupLock {
    /// Takes the lock of a container's state dir. Fails if a `delete` holds it.
    pub fn take(state_dir: &Path) -> Result<SetupLock, LinuxError> {
        let path = state_dir.join(FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| LinuxError(format!("{}: {e}", path.display())))?;
        // `start` holds it exclusively for an instant; `delete` until the state is gone.
        let deadline = Instant::now() + Duration::from_secs(1);
        while let Err(e) = try_flock(&file, libc::LOCK_SH) {
            if Instant::now() > deadline {
                return Err(LinuxError(format!("{}: the container is being deleted ({e})", path.display())));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        INHERITED_FD.store(file.as_raw_fd(), Ordering::SeqCst);
        Ok(SetupLock { _file: file })
    }
}

impl Drop for SetupLock {
    fn drop(&mut self) {
        INHERITED_FD.store(-1, Ordering::SeqCst);
    }
}

/// In the wasm host, just before the guest runs: closes the inherited lock, which the host would
/// otherwise keep for the guest's whole life. (A Linux workload's exec closes it instead.)
pub fn release_inherited() {
    let fd = INHERITED_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: the descriptor was inherited from the runtime process that stored it, and this
        // process never drops that process's `SetupLock` (libcontainer's children do not return
        // into the caller's frames), so nothing else closes it.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

/// Waits up to `timeout` until no process holds the lock (the init has exec'd its workload, or
/// died); false on timeout. Blocks in flock(2), so it returns the moment the exec closes the
/// lock, in a thread that a timeout leaves behind (blocked, harmless) until the process ends.
pub fn wait_released(state_dir: &Path, timeout: Duration) -> bool {
    let path = state_dir.join(FILE);
    let Ok(file) = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&path) else {
        return true;
    };
    if try_flock(&file, libc::LOCK_EX).is_ok() {
        return true;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: a blocking flock on a descriptor the thread owns.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        drop(file);
        let _ = tx.send(rc);
    });
    rx.recv_timeout(timeout).is_ok()
}

/// Waits until no setup process of the container is alive, SIGKILLing every process of its
/// cgroup meanwhile: an orphaned setup process is either in the cgroup (and killed) or still
/// outside it, about to join it or to exit on finding its parent gone. Returns holding the lock
/// exclusively (until the returned file is closed), so no new create or exec can start.
pub fn wait_until_free(
    state_dir: &Path,
    cgroup_path: &Path,
    systemd: bool,
    id: &str,
    timeout: Duration,
) -> Result<Option<File>, LinuxError> {
    let path = state_dir.join(FILE);
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LinuxError(format!("{}: {e}", path.display()))),
    };
    let deadline = Instant::now() + timeout;
    loop {
        if try_flock(&file, libc::LOCK_EX).is_ok() {
            return Ok(Some(file));
        }
        cgroup::kill_all(cgroup_path, systemd, id);
        kill_setup_processes_holding(&file);
        if Instant::now() > deadline {
            return Err(LinuxError(format!(
                "a process setting the container up still holds {} after {} ms",
                path.display(),
                timeout.as_millis()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// SIGKILLs every setup process (libcontainer names them `youki:[1:INTER]`, `youki:[2:INIT]`)
/// that holds this lock file open. An orphan that is neither in the cgroup nor about to exit
/// (under the systemd driver one waited on systemd, outside the scope, for over 10 s) holds
/// the lock forever otherwise. Only in `delete`'s wait, so the scan of /proc is rare.
fn kill_setup_processes_holding(file: &File) {
    use std::os::unix::fs::MetadataExt;
    let Ok(lock) = file.metadata() else { return };
    let Ok(procs) = std::fs::read_dir("/proc") else { return };
    let me = std::process::id().to_string();
    for p in procs.flatten() {
        let name = p.file_name();
        let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && *n != me) else { continue };
        let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("youki:") {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        let holds = fds.flatten().any(|fd| {
            std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == lock.dev() && m.ino() == lock.ino())
        });
        if holds {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// `flock(2)` without blocking.
fn try_flock(file: &File, how: libc::c_int) -> std::io::Result<()> {
    // SAFETY: flock on a descriptor this function borrows; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
