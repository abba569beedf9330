//! `kill`, `pause` and `resume`: signals and the freezer.

use isola_linux::container;

use crate::error::{RuntimeError, Step};
use crate::Runtime;

impl Runtime {
    /// Sends a signal (`KILL`, `SIGKILL` or `9`) to the init, or with `all` to every process.
    pub fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), RuntimeError> {
        self.existing(id, "kill")?;
        let sig = container::parse_signal(signal).step(id, "kill")?;
        let mut c = container::load(&self.lc_root(id), id).step(id, "kill")?;
        c.kill(sig, all).map_err(isola_linux::LinuxError::from).step(id, "kill")
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
