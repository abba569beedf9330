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
    /// runc's `--user UID[:GID]`, `--additional-gids`, `--cap`, `--no-new-privs`, `--apparmor`
    /// and `--process-label`: applied to the container's process when there is no `process`.
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
    /// A sub-cgroup of the container's cgroup for the process (`--cgroup`).
    pub cgroup: Option<String>,
    pub ignore_paused: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: i32,
    pub detach: bool,
    /// The process's stdio when it is not this process's own (a shim's fifos).
    pub stdio: Option<std::sync::Arc<crate::Stdio>>,
}

impl Runtime {
    /// Runs the process; detached returns 0 at once, otherwise its exit code.
    pub fn exec(&self, id: &str, args: &ExecArgs) -> Result<i32, RuntimeError> {
        let dir = self.existing(id, "exec")?;
        let planned = self.planned_spec(id)?;
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
                let mut p = planned.process().clone().unwrap_or_default();
                p.set_args(Some(args.args.clone()));
                let mut env = p.env().clone().unwrap_or_default();
                env.extend(args.env.iter().cloned());
                p.set_env(Some(env));
                if let Some(cwd) = &args.cwd {
                    p.set_cwd(cwd.clone());
                }
                p.set_terminal(Some(args.tty));
                apply_process_flags(&mut p, args).step(id, "exec")?;
                p
            }
        };
        let mut process = process;
        if let Some(root) = planned.root() {
            crate::create::default_home(&mut process, root.path());
        }
        let facts = HostFacts {
            bounding: host::bounding_set().step(id, "host facts")?,
            oom_score_adj: host::oom_score_adj(),
            rootfs: PathBuf::new(),
            entrypoint_is_wasm: false,
            systemd_cgroup: self.systemd_cgroup,
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
            sub_cgroup: args.cgroup.clone(),
            ignore_paused: args.ignore_paused,
            stdio: args.stdio.as_deref(),
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

/// runc's process flags of `exec` on top of the container's process (as runc applies them:
/// numeric user and group, each `--cap` added to the bounding, effective and permitted sets,
/// and to the ambient set when the process has inheritable ones). Policy clamps come after.
fn apply_process_flags(p: &mut Process, args: &ExecArgs) -> Result<(), String> {
    let mut user = p.user().clone();
    if let Some(spec) = &args.user {
        let (uid, gid) = spec.split_once(':').map_or((spec.as_str(), None), |(u, g)| (u, Some(g)));
        let number = |what: &str, v: &str| v.parse::<u32>().map_err(|_| format!("--user {spec:?}: the {what} must be a number"));
        user.set_uid(number("uid", uid)?);
        if let Some(gid) = gid {
            user.set_gid(number("gid", gid)?);
        }
    }
    if !args.additional_gids.is_empty() {
        user.set_additional_gids(Some(args.additional_gids.clone()));
    }
    p.set_user(user);
    if !args.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &args.caps {
            let cap: oci_spec::runtime::Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| format!("--cap {name:?}: not a capability name (e.g. CAP_KILL)"))?;
            let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                let mut set = set.clone().unwrap_or_default();
                set.insert(cap);
                Some(set)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
            if caps.inheritable().as_ref().is_some_and(|s| !s.is_empty()) {
                caps.set_ambient(add(caps.ambient()));
            }
        }
        p.set_capabilities(Some(caps));
    }
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &args.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &args.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    Ok(())
}
