//! The workload seam: libcontainer's `Executor`, wrapped so that isola's precompiled seccomp
//! filter is installed as the very last step before the workload runs (after capabilities
//! are dropped and no_new_privs is set, and after the start signal); and the Linux executor,
//! which resolves `process.args[0]` as runc does.

use std::collections::HashMap;

use std::os::unix::fs::PermissionsExt;

use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorSetEnvsError, ExecutorValidationError};
use oci_spec::runtime::Spec;

use crate::seccomp::{self, CompiledFilter};

/// An executor that installs `filter` (if any) and then runs `inner`.
#[derive(Clone)]
pub struct FilteredExecutor<E> {
    pub filter: Option<CompiledFilter>,
    pub inner: E,
    /// `Some(id)` when this runs a container's init. Its `exec` comes after `start` has
    /// returned, when nothing listens on libcontainer's error channel any more, so a failure is
    /// printed here, on the container's stderr, as the one error line (`isola: container ID:
    /// start: CAUSE`). An `exec`'d process reports through its caller instead (`None`).
    pub init_of: Option<String>,
    /// Whether `inner` execs the workload (a Linux process) rather than running it in this
    /// process (the wasm host). If it execs, every signal is set to its default action and
    /// unblocked before the filter goes in, as a process started by runc finds them (the
    /// runtime's Rust ignores SIGPIPE, and an ignored signal stays ignored across exec), and the
    /// setup lock is left for the exec itself to close (it is close-on-exec), so `start`
    /// returns exactly when the workload runs. The wasm host keeps wasmtime's trap handlers and
    /// drops the lock just before the guest runs.
    pub execs_workload: bool,
}

impl<E: Executor + Clone + 'static> Executor for FilteredExecutor<E> {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if self.execs_workload {
            reset_signals();
        } else {
            crate::setup_lock::release_inherited();
        }
        let result = match &self.filter {
            Some(filter) => seccomp::install(filter)
                .map_err(|e| ExecutorError::Other(format!("installing the seccomp filter: {e}"))),
            None => Ok(()),
        }
        .and_then(|()| self.inner.exec(spec));
        if let (Err(e), Some(id)) = (&result, &self.init_of) {
            let cause = crate::LinuxError::chain(e).0.replace('\n', " ");
            eprintln!("isola: container {id}: start: {cause}");
        }
        result
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        self.inner.validate(spec)
    }

    fn prepare_privileged(&self, spec: &Spec) -> Result<(), ExecutorError> {
        self.inner.prepare_privileged(spec)
    }

    fn setup_envs(&self, envs: HashMap<String, String>) -> Result<(), ExecutorSetEnvsError> {
        self.inner.setup_envs(envs)
    }
}

/// libcontainer's executor, except that an `args[0]` with a slash is taken as a path, as runc
/// and execvp(3) do: it needs no `PATH` in the environment (images built without an `Env`,
/// such as a pause image, carry none). Bare names are still looked up in `PATH`.
#[derive(Clone)]
pub struct LinuxExecutor;

impl Executor for LinuxExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        DefaultExecutor {}.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        let arg0 = spec.process().as_ref().and_then(|p| p.args().as_ref()).and_then(|a| a.first());
        match arg0 {
            Some(path) if path.contains('/') => executable_at(path),
            _ => DefaultExecutor {}.validate(spec),
        }
    }

    fn setup_envs(&self, envs: HashMap<String, String>) -> Result<(), ExecutorSetEnvsError> {
        DefaultExecutor {}.setup_envs(envs)
    }
}

/// A file execve(2) can run: a regular file with an execute bit that starts with ELF magic or
/// `#!`. Anything else would fail with ENOEXEC, which execvp(3) "recovers" by handing the file
/// to the container's `/bin/sh` (runc, which uses execve, fails with "exec format error").
fn executable_at(path: &str) -> Result<(), ExecutorValidationError> {
    let invalid = |why: String| Err(ExecutorValidationError::ArgValidationError(why));
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {
            let mut magic = [0u8; 4];
            let n = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut magic)).unwrap_or(0);
            if magic[..n].starts_with(b"\x7fELF") || magic[..n].starts_with(b"#!") {
                Ok(())
            } else {
                invalid(format!("executable '{path}' is neither an ELF binary nor a #! script: exec format error"))
            }
        }
        Ok(m) if m.is_file() => invalid(format!("executable '{path}' does not have an execute permission bit")),
        Ok(_) => invalid(format!("executable '{path}' is not a regular file")),
        Err(e) => invalid(format!("executable '{path}': {e}")),
    }
}

/// Every signal (but KILL and STOP) to its default action, and an empty signal mask. The raw
/// system call, because glibc's `sigaction` refuses the two real-time signals it keeps for
/// itself, and an ignored one would stay ignored across exec.
fn reset_signals() {
    // SAFETY: rt_sigaction with a zeroed kernel sigaction (handler SIG_DFL, no flags, empty
    // mask; 8 bytes of mask as the kernel expects) and sigprocmask with an empty set, on this
    // process, which is single-threaded here and about to exec.
    unsafe {
        let default = [0u64; 4];
        for sig in 1..=libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(libc::SYS_rt_sigaction, sig, default.as_ptr(), std::ptr::null_mut::<u64>(), 8usize);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}
