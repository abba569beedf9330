//! `delete [--force]`: stop (with --force) and remove a container. With --force it also
//! cleans up after a runtime that was SIGKILLed half-way through `create`: whatever of
//! libcontainer's state, the cgroup and the state directory exists is removed, once no
//! orphaned setup process is left to recreate them.

use std::fs;
use std::time::Duration;

use isola_linux::{cgroup, setup_lock};
use isola_linux::container::{self, ContainerStatus};

use crate::error::{RuntimeError, Step};
use crate::Runtime;

impl Runtime {
    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        isola_policy::validate_id(id).step(id, "delete")?;
        let dir = self.container_dir(id);
        if !dir.is_dir() {
            return if force { Ok(()) } else { Err(RuntimeError::new(id, "delete", "container does not exist")) };
        }
        // An unreadable planned spec (a corrupted state file) must not leave the cgroup and its
        // processes behind: fall back to the path policy gives a container without one.
        let path = self.cgroup_path_or_default(id);
        match container::load(&self.lc_root(id), id) {
            Ok(mut c) => {
                if !force && !matches!(c.status(), ContainerStatus::Stopped | ContainerStatus::Created) {
                    return Err(RuntimeError::new(
                        id,
                        "delete",
                        format!("container is {}; stop it first or use --force", c.status().to_string().to_lowercase()),
                    ));
                }
                // libcontainer removes only the container's own cgroup directory (and walks
                // every hierarchy to do so): the empty ones go here, sub-cgroups included.
                if !matches!(c.status(), ContainerStatus::Running | ContainerStatus::Paused) && !self.systemd_cgroup {
                    cgroup::remove_empty(&path);
                }
                if let Err(e) = c.delete(force) {
                    if !force {
                        return Err(isola_linux::LinuxError::from(e)).step(id, "delete");
                    }
                    tracing::warn!(id, "libcontainer delete failed, cleaning up by hand: {e}");
                }
            }
            Err(e) if !force => {
                // No libcontainer state: a create that died early. Only --force may clean it.
                return Err(RuntimeError::new(id, "delete", format!("incomplete container ({e}); use --force")));
            }
            Err(_) => {}
        }
        // A setup process orphaned by a killed create or exec must be gone before the cgroup
        // goes, or it recreates the cgroup behind us. Held until the state dir is removed.
        let _setup = setup_lock::wait_until_free(&dir, &path, self.systemd_cgroup, id, SETUP_TIMEOUT).step(id, "delete")?;
        // Under systemd the unit may be left without a cgroup (failed: its process died before
        // systemd moved it): destroy stops and resets it either way.
        if self.systemd_cgroup || cgroup::exists(&path, self.systemd_cgroup, id) {
            cgroup::destroy(&path, self.systemd_cgroup, id).step(id, "delete cgroup")?;
        }
        fs::remove_dir_all(&dir).step(id, "delete state")
    }
}

/// How long `delete` waits for setup processes of an interrupted create or exec to go (they
/// are killed once they reach the cgroup and exit on their own when they find their parent
/// gone; both take milliseconds, but under the systemd driver on an emulated VM a setup
/// process still waiting for systemd to make its scope took over 2 s).
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
