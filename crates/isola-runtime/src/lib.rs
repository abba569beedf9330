//! isola's runtime library: the lifecycle verbs of an OCI runtime (one module per verb),
//! the state directory, and the glue that runs policy before the container layer.
//! The CLI parses and prints; this crate decides; isola-linux and isola-wasm touch the OS.

mod create;
mod delete;
mod error;
mod exec;
mod features;
mod inspect;
mod signal;
pub mod state;
mod wasm;

pub use create::CreateArgs;
pub use error::RuntimeError;
pub use exec::ExecArgs;
pub use features::features;
/// The standard streams handed to a container's process by a caller that is not its parent's
/// terminal (a shim): see [`CreateArgs::stdio`].
pub use isola_linux::container::Stdio;
pub use state::OciState;
/// The background compile of a tiered wasm start: a binary built on this runtime must call
/// `run_background_compile` when its `argv[1]` is `BACKGROUND_COMPILE_ARG` (the runtime
/// re-executes `/proc/self/exe` that way).
pub use isola_wasm::{reap_finished_background_compiles, run_background_compile, BACKGROUND_COMPILE_ARG};

/// To be called once, at start, by a process that runs this runtime beside other threads
/// (isola's shim): a container's first process is then made with glibc's fork, which leaves the
/// heap's locks usable in the child, rather than a raw clone that copies one another thread
/// holds (the child then waits forever on its first allocation).
pub fn runtime_beside_other_threads() {
    isola_linux::libcontainer::process::set_multithreaded_caller(true);
}

use std::path::PathBuf;

use isola_policy::NodeConfig;

/// Default state root, as runc's `/run/runc`.
pub const DEFAULT_ROOT: &str = "/run/isola";

/// The runtime, configured by the global flags.
pub struct Runtime {
    /// State root (`--root`).
    pub root: PathBuf,
    /// Node policy.
    pub node: NodeConfig,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
}

impl Runtime {
    /// Checks the global configuration: a systemd cgroup driver needs a running systemd.
    pub fn new(root: PathBuf, node: NodeConfig, systemd_cgroup: bool) -> Result<Self, RuntimeError> {
        if systemd_cgroup && !std::path::Path::new("/run/systemd/system").is_dir() {
            return Err(RuntimeError::global(
                "--systemd-cgroup",
                "systemd is not running on this host (/run/systemd/system is missing); drop the flag to use cgroupfs".into(),
            ));
        }
        Ok(Self { root, node, systemd_cgroup })
    }
}

impl Runtime {
    /// `precompile`: fills the module cache for modules a node will run (node warm-up), for the
    /// engine a container with `annotations` gets under the node's settings: a wall-clock
    /// timeout (epoch checks) or a fuel budget changes the generated code, so a container with
    /// one needs an artifact compiled with the same annotation.
    pub fn precompile(&self, modules: &[PathBuf], annotations: &std::collections::HashMap<String, String>) -> Result<Vec<(PathBuf, bool)>, RuntimeError> {
        let (plan, _) = isola_policy::wasm::plan_wasm(annotations, None, &self.node)
            .map_err(|e| RuntimeError::global("precompile", e))?;
        let sandbox = wasm::sandbox(&plan, None).map_err(|e| RuntimeError::global("precompile", e))?;
        modules
            .iter()
            .map(|m| {
                sandbox
                    .precompile(m)
                    .map(|o| (m.clone(), o == isola_wasm::CacheOutcome::Compiled))
                    .map_err(|e| RuntimeError::global("precompile", e.to_string()))
            })
            .collect()
    }
}
