//! `exec`: a new process in a running container. Its process.json passes through the same
//! policy clamps as the container's own process (capability ceiling, noNewPrivileges), so an
//! exec cannot ask for more than the container was allowed.

use std::path::PathBuf;

use isola_linux::container::{self, ExecOptions};
use isola_linux::executor::{FilteredExecutor, LinuxExecutor};
use isola_linux::setup_lock::SetupLock;
use isola_linux::{host, seccomp, wait};
use isola_policy::{plan_exec_process, HostFacts};
use oci_spec::runtime::Process;

use crate::error::{RuntimeError, Step};
use crate::state::write_atomic;
use crate::Runtime;

/// Options of `exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecArgs {
    /// A process.json; without it, `args` (plus `env`, `cwd`) replace the container's process.
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub tty: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: i32,
    pub detach: bool,
}

impl Runtime {
    /// Runs the process; detached returns 0 at once, otherwise its exit code.
    pub fn exec(&self, id: &str, args: &ExecArgs) -> Result<i32, RuntimeError> {
        let dir = self.existing(id, "exec")?;
        let process = match &args.process {
            Some(file) => {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| RuntimeError::new(id, "exec", format!("{}: {e}", file.display())))?;
                serde_json::from_str::<Process>(&text)
                    .map_err(|e| RuntimeError::new(id, "exec", format!("{}: {e}", file.display())))?
            }
            None => {
                if args.args.is_empty() {
                    return Err(RuntimeError::new(id, "exec", "give --process FILE or a command to run"));
                }
                let mut p = self.planned_spec(id)?.process().clone().unwrap_or_default();
                p.set_args(Some(args.args.clone()));
                let mut env = p.env().clone().unwrap_or_default();
                env.extend(args.env.iter().cloned());
                p.set_env(Some(env));
                if let Some(cwd) = &args.cwd {
                    p.set_cwd(cwd.clone());
                }
                p.set_terminal(Some(args.tty));
                p
            }
        };
        let facts = HostFacts {
            bounding: host::bounding_set().step(id, "host facts")?,
            oom_score_adj: host::oom_score_adj(),
            rootfs: PathBuf::new(),
            entrypoint_is_wasm: false,
        };
        let (process, clamps) = plan_exec_process(process, &self.node, &facts).step(id, "policy")?;
        for clamp in &clamps {
            tracing::info!(id, "policy clamp (exec): {clamp}");
        }
        let process_file = dir.join(format!("exec-{}.json", std::process::id()));
        write_atomic(&process_file, &serde_json::to_vec(&process).step(id, "exec")?).step(id, "exec")?;
        if !args.detach {
            wait::become_subreaper().step(id, "exec")?;
        }
        let lc_root = self.lc_root(id);
        let opts = ExecOptions {
            id,
            state_root: &lc_root,
            process: process_file.clone(),
            pid_file: args.pid_file.as_deref(),
            console_socket: args.console_socket.as_deref(),
            preserve_fds: args.preserve_fds,
            detach: args.detach,
        };
        let seccomp_file = dir.join(crate::create::SECCOMP_FILE);
        let filter = if seccomp_file.exists() {
            Some(seccomp::read_trusted(&dir, &seccomp_file).ok_or_else(|| {
                RuntimeError::new(id, "exec", "the container's seccomp filter in its state dir failed its integrity check")
            })?)
        } else {
            None
        };
        let setup = SetupLock::take(&dir).step(id, "exec")?;
        let pid = container::exec(&opts, FilteredExecutor { filter, inner: LinuxExecutor, init_of: None, execs_workload: true });
        drop(setup);
        let _ = std::fs::remove_file(&process_file);
        let pid = pid.step(id, "exec")?;
        if args.detach {
            return Ok(0);
        }
        wait::wait_forwarding(pid).step(id, "exec wait")
    }
}
