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
