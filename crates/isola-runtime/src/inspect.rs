//! `state`, `list`, `ps` and `update`: reading (and, for update, re-limiting) a container.

use std::path::Path;

use isola_linux::{cgroup, container};
use oci_spec::runtime::LinuxResources;

use crate::error::{RuntimeError, Step};
use crate::state::OciState;
use crate::Runtime;

impl Runtime {
    /// The OCI state of one container.
    pub fn state(&self, id: &str) -> Result<OciState, RuntimeError> {
        self.existing(id, "state")?;
        let record = self.read_record(id)?;
        let spec = self.planned_spec(id)?;
        let rootfs = spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default();
        let (status, pid, created, owner) = match container::load(&self.lc_root(id), id) {
            Ok(c) => (
                c.status().to_string().to_lowercase(),
                c.pid().map(|p| p.as_raw()).unwrap_or(0),
                c.created().map(|t| t.to_rfc3339()).unwrap_or_default(),
                c.creator().map(|o| o.to_string_lossy().into_owned()).unwrap_or_default(),
            ),
            // Claimed but libcontainer never saved its state: a create in progress or one that died.
            Err(_) if !self.lc_state_file(id).exists() => ("creating".to_string(), 0, String::new(), String::new()),
            // Saved but unreadable (truncated, corrupted): an error, never a made-up status.
            Err(e) => {
                return Err(RuntimeError::new(id, "read state", format!("{}: {e}", self.lc_state_file(id).display())))
            }
        };
        let pid = if status == "stopped" { 0 } else { pid };
        Ok(OciState {
            oci_version: "1.2.0".into(),
            id: id.to_string(),
            status,
            pid,
            bundle: record.bundle,
            rootfs,
            created,
            owner,
            annotations: spec.annotations().clone(),
        })
    }

    /// States of every container; ones whose state cannot be read are skipped.
    pub fn list(&self) -> Vec<OciState> {
        self.ids().iter().filter_map(|id| self.state(id).ok()).collect()
    }

    /// Pids of every process in the container.
    pub fn ps(&self, id: &str) -> Result<Vec<i32>, RuntimeError> {
        self.existing(id, "ps")?;
        let path = self.cgroup_path(id)?;
        cgroup::pids(&path, self.systemd_cgroup, id).step(id, "ps")
    }

    /// Applies new limits from a resources JSON file (`-` for stdin).
    pub fn update(&self, id: &str, resources_file: &Path) -> Result<(), RuntimeError> {
        self.existing(id, "update")?;
        let text = if resources_file == Path::new("-") {
            std::io::read_to_string(std::io::stdin()).step(id, "update")?
        } else {
            std::fs::read_to_string(resources_file)
                .map_err(|e| RuntimeError::new(id, "update", format!("{}: {e}", resources_file.display())))?
        };
        let mut resources: LinuxResources = serde_json::from_str(&text)
            .map_err(|e| RuntimeError::new(id, "update", format!("{}: {e}", resources_file.display())))?;
        let planned = self.planned_spec(id)?;
        // As runc, an update never changes the device rules: the container's own are applied
        // again (cgroup v2 replaces its device program with one built from the rules given).
        resources.set_devices(planned.linux().as_ref().and_then(|l| l.resources().as_ref()).and_then(|r| r.devices().clone()));
        let path = crate::state::cgroup_path_of(&planned, id);
        // The OOM killer setting is the container's unless the update names one.
        let disable_oom_killer = oom_killer_disabled(&resources)
            .or_else(|| planned.linux().as_ref().and_then(|l| l.resources().as_ref()).and_then(oom_killer_disabled))
            .unwrap_or(false);
        cgroup::update(&path, self.systemd_cgroup, id, &resources, disable_oom_killer).step(id, "update")
    }
}

/// `memory.disableOOMKiller` of a resources object, if set.
pub(crate) fn oom_killer_disabled(resources: &LinuxResources) -> Option<bool> {
    resources.memory().as_ref().and_then(|m| m.disable_oom_killer())
}
