use std::fs;
use std::path::Path;

#[cfg(test)]
use nix::unistd::Pid;

use crate::common::{self, ControllerOpt, WrapIoResult, WrappedIoError};

pub(super) trait Controller {
    type Error: From<WrappedIoError>;
    type Resource;

    /// Adds a new task specified by its pid to the cgroup (upstream's entry point; the manager
    /// now calls `attach`, and only the upstream unit tests call this).
    #[cfg(test)]
    fn add_task(pid: Pid, cgroup_path: &Path) -> Result<(), Self::Error> {
        Self::attach(common::V1Attach::Process(pid), cgroup_path)
    }

    /// Moves `who` into the cgroup (isola patch: see `common::V1Attach`).
    fn attach(who: common::V1Attach, cgroup_path: &Path) -> Result<(), Self::Error> {
        fs::create_dir_all(cgroup_path).wrap_create_dir(cgroup_path)?;
        common::attach_v1(cgroup_path, who)?;
        Ok(())
    }

    /// Applies resource restrictions to the cgroup
    fn apply(controller_opt: &ControllerOpt, cgroup_root: &Path) -> Result<(), Self::Error>;

    /// Checks if the controller needs to handle this request
    fn needs_to_handle<'a>(controller_opt: &'a ControllerOpt) -> Option<&'a Self::Resource>;
}
