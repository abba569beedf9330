//! The state directory. One directory per container, made by an atomic `mkdir` so that
//! exactly one of two racing `create`s wins:
//! `<root>/<id>/planned.json` (the spec after policy), `<root>/<id>/config.json` (the same
//! minus a precompiled seccomp profile: the bundle libcontainer reads), `seccomp.bpf`,
//! `<root>/<id>/isola.json` (what isola adds: the caller's bundle, the mode),
//! `<root>/<id>/lc/<id>/` (libcontainer's own state).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use isola_policy::Mode;
use serde::{Deserialize, Serialize};

use crate::error::{RuntimeError, Step};
use crate::Runtime;

/// What isola records about a container beyond libcontainer's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The bundle the caller gave (reported by `state`).
    pub bundle: PathBuf,
    pub mode: Mode,
}

impl Record {
    /// Parses `isola.json` as `read_record` reads it back (pure, so it can be fuzzed).
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The OCI state of a container, as `state` prints it (runc's field names).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub status: String,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::HashMap<String, String>>,
}

impl Runtime {
    /// `<root>/<id>`.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// libcontainer's root for this container.
    pub(crate) fn lc_root(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("lc")
    }

    /// libcontainer's state file of this container (present once its create saved state).
    pub(crate) fn lc_state_file(&self, id: &str) -> PathBuf {
        self.lc_root(id).join(id).join("state.json")
    }

    /// Where compiled seccomp filters are cached (root-owned, 0700; not a container id).
    pub(crate) fn seccomp_cache(&self) -> PathBuf {
        self.root.join(".seccomp-cache")
    }

    /// Makes the state root (0700) if missing.
    pub(crate) fn ensure_root(&self) -> Result<(), RuntimeError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| RuntimeError::global("state root", format!("{}: {e}", self.root.display())))
    }

    /// Claims `<root>/<id>`; fails if another container (or a racing create) has it.
    pub(crate) fn claim(&self, id: &str) -> Result<PathBuf, RuntimeError> {
        self.ensure_root()?;
        let dir = self.container_dir(id);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(RuntimeError::new(id, "create", "a container with this id already exists"))
            }
            Err(e) => Err(RuntimeError::new(id, "create", format!("state dir {}: {e}", dir.display()))),
        }
    }

    /// Fails with "does not exist" unless `<root>/<id>` is there.
    pub(crate) fn existing(&self, id: &str, step: &'static str) -> Result<PathBuf, RuntimeError> {
        isola_policy::validate_id(id).step(id, step)?;
        let dir = self.container_dir(id);
        if !dir.is_dir() {
            return Err(RuntimeError::new(id, step, "container does not exist"));
        }
        Ok(dir)
    }

    pub(crate) fn read_record(&self, id: &str) -> Result<Record, RuntimeError> {
        let path = self.container_dir(id).join("isola.json");
        let text = fs::read_to_string(&path).step(id, "read state")?;
        Record::parse(&text).map_err(|e| RuntimeError::new(id, "read state", format!("{}: {e}", path.display())))
    }

    /// The planned spec this container runs with.
    pub(crate) fn planned_spec(&self, id: &str) -> Result<oci_spec::runtime::Spec, RuntimeError> {
        let path = self.container_dir(id).join("planned.json");
        oci_spec::runtime::Spec::load(&path).map_err(|e| RuntimeError::new(id, "read state", format!("{}: {e}", path.display())))
    }

    /// The cgroup path the planned spec gives.
    pub(crate) fn cgroup_path(&self, id: &str) -> Result<PathBuf, RuntimeError> {
        Ok(cgroup_path_of(&self.planned_spec(id)?, id))
    }

    /// The cgroup path the planned spec gives or, when it cannot be read (a corrupted state
    /// file), the path the policy gives a container without one under this cgroup driver.
    pub(crate) fn cgroup_path_or_default(&self, id: &str) -> PathBuf {
        self.cgroup_path(id)
            .unwrap_or_else(|_| isola_policy::plan::default_cgroups_path_for(id, self.systemd_cgroup))
    }

    /// IDs of every container under the root.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = fs::read_dir(&self.root)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|id| isola_policy::validate_id(id).is_ok())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }
}

/// Writes a file atomically (temp file, fsync-free rename: the state dir lives on tmpfs).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(bytes)?;
    drop(f);
    fs::rename(&tmp, path)
}

/// The cgroup path a planned spec gives its container.
pub(crate) fn cgroup_path_of(spec: &oci_spec::runtime::Spec, id: &str) -> PathBuf {
    spec.linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
        .unwrap_or_else(|| isola_policy::plan::default_cgroups_path(id))
}
