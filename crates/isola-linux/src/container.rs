//! Lifecycle calls on libcontainer, with isola's options gathered before anything touches
//! the OS. The workload is libcontainer's `Executor` seam: the default executor for Linux
//! containers, isola's wasm executor for wasm ones.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::signal::Signal;
use libcontainer::syscall::syscall::SyscallType;
use libcontainer::workload::Executor;

use crate::LinuxError;

pub use libcontainer::container::{Container as LcContainer, ContainerStatus};

/// The standard streams of a container's process when they are not its caller's own (a shim
/// hands over containerd's fifos); each is duplicated into the process.
#[derive(Debug)]
pub struct Stdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

impl Stdio {
    fn apply(stdio: Option<&Stdio>, builder: ContainerBuilder) -> Result<ContainerBuilder, LinuxError> {
        let Some(s) = stdio else { return Ok(builder) };
        let dup = |fd: &OwnedFd, name: &str| fd.try_clone().map_err(|e| LinuxError(format!("duplicating {name}: {e}")));
        Ok(builder.with_stdin(dup(&s.stdin, "stdin")?).with_stdout(dup(&s.stdout, "stdout")?).with_stderr(dup(&s.stderr, "stderr")?))
    }
}

/// Everything `create` needs, gathered first.
pub struct CreateOptions<'a> {
    pub id: &'a str,
    /// libcontainer's state root (it makes `<root>/<id>`).
    pub state_root: &'a Path,
    /// Directory holding the planned `config.json`.
    pub bundle: &'a Path,
    /// The caller's bundle, which the OCI state given to hooks reports.
    pub caller_bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub preserve_fds: i32,
    pub systemd: bool,
    /// false for a foreground `run`: the init stays our child.
    pub detach: bool,
    /// The init's stdio; the caller's own when `None`.
    pub stdio: Option<&'a Stdio>,
}

/// Creates the container: namespaces, cgroups, rootfs; the init waits for `start`.
pub fn create<E: Executor + Clone + 'static>(opts: &CreateOptions, executor: E) -> Result<Container, LinuxError> {
    let builder = ContainerBuilder::new(opts.id.to_string(), SyscallType::default())
        .with_executor(executor)
        .with_root_path(opts.state_root)?
        .with_pid_file(opts.pid_file)?
        .with_console_socket(opts.console_socket)
        .with_preserved_fds(opts.preserve_fds);
    let container = Stdio::apply(opts.stdio, builder)?
        .as_init(opts.bundle)
        .with_reported_bundle(opts.caller_bundle)
        .with_systemd(opts.systemd)
        .with_detach(opts.detach)
        .build()?;
    Ok(container)
}

/// Loads a container's libcontainer state.
pub fn load(state_root: &Path, id: &str) -> Result<Container, LinuxError> {
    Ok(Container::load(state_root.join(id))?)
}

/// Parses a signal the way runc does: `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(s: &str) -> Result<Signal, LinuxError> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|e| LinuxError(e.to_string()));
    }
    Signal::try_from(s).map_err(|e| LinuxError(e.to_string()))
}

/// Whether a signal argument that `parse_signal` accepts names SIGKILL.
pub fn names_sigkill(s: &str) -> bool {
    let upper = s.to_ascii_uppercase();
    s.parse::<i32>() == Ok(libc::SIGKILL) || upper == "KILL" || upper == "SIGKILL"
}

/// Options of `exec`.
pub struct ExecOptions<'a> {
    pub id: &'a str,
    pub state_root: &'a Path,
    /// A process.json already clamped by policy.
    pub process: PathBuf,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub preserve_fds: i32,
    pub detach: bool,
    /// A sub-cgroup of the container's cgroup for the process (runc's `--cgroup`).
    pub sub_cgroup: Option<String>,
    /// Exec into a paused container too (runc's `--ignore-paused`).
    pub ignore_paused: bool,
    /// The process's stdio; the caller's own when `None`.
    pub stdio: Option<&'a Stdio>,
}

/// Starts a new process in a running container's namespaces and cgroup; returns its pid.
pub fn exec<E: Executor + Clone + 'static>(opts: &ExecOptions, executor: E) -> Result<i32, LinuxError> {
    let builder = ContainerBuilder::new(opts.id.to_string(), SyscallType::default())
        .with_executor(executor)
        .with_root_path(opts.state_root)?
        .with_pid_file(opts.pid_file)?
        .with_console_socket(opts.console_socket)
        .with_preserved_fds(opts.preserve_fds);
    let pid = Stdio::apply(opts.stdio, builder)?
        .as_tenant()
        .with_process(Some(&opts.process))
        .with_detach(opts.detach)
        .with_sub_cgroup(opts.sub_cgroup.clone())
        .with_ignore_paused(opts.ignore_paused)
        .build()?;
    Ok(pid.as_raw())
}
