//! Foreground waiting: `run` and `exec` without `--detach` wait for the workload, forwarding
//! the signals a shell or supervisor sends to isola, and map its end to an exit code
//! (the code itself, or 128+signal).

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::Signals;

use crate::LinuxError;

/// Makes this process the reaper of orphaned descendants (there may be no real init).
pub fn become_subreaper() -> Result<(), LinuxError> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(LinuxError(format!("PR_SET_CHILD_SUBREAPER: {}", std::io::Error::last_os_error())));
    }
    Ok(())
}

/// Waits for `pid` to end while forwarding termination signals to it; reaps any other child.
pub fn wait_forwarding(pid: i32) -> Result<i32, LinuxError> {
    let target = Pid::from_raw(pid);
    let mut signals = Signals::new([SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH])
        .map_err(|e| LinuxError(format!("installing signal handlers: {e}")))?;
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for sig in signals.forever() {
            if let Ok(s) = Signal::try_from(sig) {
                let _ = kill(target, s);
            }
        }
    });
    let code = loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(p, code)) if p == target => break code,
            Ok(WaitStatus::Signaled(p, sig, _)) if p == target => break 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::ECHILD) => {
                // Not our child (e.g. reparented elsewhere): poll until it is gone.
                while kill(target, None).is_ok() {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                break 0;
            }
            Err(e) => return Err(LinuxError(format!("waiting for pid {pid}: {e}"))),
        }
    };
    handle.close();
    let _ = forwarder.join();
    Ok(code)
}

/// A process to wait for without being its parent: a pidfd, taken before the process is
/// signalled so that a reused pid cannot be mistaken for it.
pub struct ProcessHandle(std::os::fd::OwnedFd);

impl ProcessHandle {
    /// None when `pid` no longer exists.
    pub fn open(pid: i32) -> Option<ProcessHandle> {
        use std::os::fd::FromRawFd;
        // SAFETY: pidfd_open takes a pid and flags; it returns a new fd (O_CLOEXEC) or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
        // SAFETY: a fresh descriptor we own.
        (fd >= 0).then(|| ProcessHandle(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    /// Waits up to `timeout` for the process to end (become a zombie or go); false on timeout.
    pub fn wait_exited(&self, timeout: std::time::Duration) -> bool {
        use std::os::fd::AsRawFd;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let mut p = libc::pollfd { fd: self.0.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let left = deadline.saturating_duration_since(std::time::Instant::now()).as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            match unsafe { libc::poll(&mut p, 1, left) } {
                0 => return false,
                rc if rc > 0 => return true,
                _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => continue,
                _ => return true,
            }
        }
    }
}
