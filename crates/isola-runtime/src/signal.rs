//! `kill`, `pause` and `resume`: signals and the freezer.

use std::time::Duration;

use isola_linux::container;
use isola_linux::wait::ProcessHandle;

use crate::error::{RuntimeError, Step};
use crate::Runtime;

impl Runtime {
    /// Sends a signal (`KILL`, `SIGKILL` or `9`) to the init, or with `all` to every process.
    pub fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), RuntimeError> {
        self.existing(id, "kill")?;
        let sig = container::parse_signal(signal).step(id, "kill")?;
        let mut c = container::load(&self.lc_root(id), id).step(id, "kill")?;
        // Under the systemd driver a scope goes as soon as its last process exits, and
        // containerd sends `kill --all` after every exit: with nothing left, as under runc,
        // there is nothing to signal (it used to fail on the missing cgroup, forever).
        if all && c.status() == container::ContainerStatus::Stopped {
            let path = self.cgroup_path_or_default(id);
            if !isola_linux::cgroup::exists(&path, self.systemd_cgroup, id) {
                return Ok(());
            }
        }
        // After KILL the init is dead when `kill` returns, as under runc: a `delete` right
        // after must not find it still exiting (and read it as running).
        let init = container::names_sigkill(signal).then(|| c.pid()).flatten().and_then(|p| ProcessHandle::open(p.as_raw()));
        c.kill(sig, all).map_err(isola_linux::LinuxError::from).step(id, "kill")?;
        if let Some(init) = init {
            if !init.wait_exited(KILL_WAIT) {
                return Err(RuntimeError::new(id, "kill", format!("the init survived SIGKILL for {} ms", KILL_WAIT.as_millis())));
            }
        }
        Ok(())
    }

    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        self.existing(id, "pause")?;
        let mut c = container::load(&self.lc_root(id), id).step(id, "pause")?;
        c.pause().map_err(isola_linux::LinuxError::from).step(id, "pause")
    }

    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        self.existing(id, "resume")?;
        let mut c = container::load(&self.lc_root(id), id).step(id, "resume")?;
        c.resume().map_err(isola_linux::LinuxError::from).step(id, "resume")
    }
}

/// How long `kill KILL` waits for the init to die (a frozen cgroup thaws first; the pid
/// namespace's other processes die with it).
const KILL_WAIT: Duration = Duration::from_secs(5);
