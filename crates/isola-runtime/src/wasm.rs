//! The wasm workload: the module is loaded (cache or compile) and linked in the runtime
//! process before the container exists, so a bad module fails `create` with nothing made; the
//! guest's WASI context is built inside the container after `pivot_root`, and the guest runs
//! as the container's init, under a second seccomp filter of the wasm host's own (installed
//! after instantiation: no exec, sockets, fork or executable mappings). The guest sees the
//! container's filesystem as `/`, without /proc, /sys, /dev or any other kernel
//! pseudo-filesystem (`isola_linux::guest_root`): through /proc the wasm host's own memory
//! (/proc/self/mem) and original environment would be one open() away.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use isola_linux::guest_root;
use isola_linux::libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use isola_linux::seccomp::{self, CompiledFilter};
use isola_policy::{WasmCompiler, WasmPlan};
use isola_wasm::{CompileLimits, Compiler, Guest, GuestStdio, Loaded, ModuleCache, Preopen, Sandbox, SandboxConfig};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// The engine for a container's wasm settings. `cpus` is the container's CPU limit (its
/// quota over its period), which lowers the compiler's threads.
pub(crate) fn sandbox(plan: &WasmPlan, cpus: Option<f64>) -> Result<Sandbox, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cpus.map_or(cores, |c| (c.ceil() as usize).clamp(1, cores));
    let cfg = SandboxConfig {
        max_memory: plan.max_memory,
        timeout: plan.timeout_ms.map(Duration::from_millis),
        fuel: plan.fuel,
        clock_resolution: Duration::from_nanos(plan.clock_resolution_ns),
        compile: Some(CompileLimits {
            max_module_bytes: plan.max_module_bytes,
            memory: plan.compile_memory,
            timeout: Duration::from_millis(plan.compile_timeout_ms),
            threads,
            // The background compile of a tiered first start is this same binary, re-executed
            // (isola-cli's `main` hands `BACKGROUND_COMPILE_ARG` to isola-wasm).
            background_compiler: Some(PathBuf::from("/proc/self/exe")),
        }),
        compiler: match plan.compiler {
            WasmCompiler::Cranelift => Compiler::Cranelift,
            WasmCompiler::Winch => Compiler::Winch,
            WasmCompiler::Tiered => Compiler::Tiered,
        },
        ..SandboxConfig::default()
    };
    let cache = ModuleCache::new(PathBuf::from(&plan.module_cache))
        .map_err(|e| e.to_string())?
        .with_max_bytes(plan.cache_max_bytes);
    Sandbox::new(&cfg, cache).map_err(|e| e.to_string())
}

/// Runs a loaded module as the container's workload.
#[derive(Clone)]
pub(crate) struct WasmExecutor {
    pub sandbox: Rc<Sandbox>,
    pub loaded: Rc<Loaded>,
    /// The wasm host's own allow-list, installed once the guest is instantiated.
    pub host_filter: Option<Rc<CompiledFilter>>,
}

extern "C" fn exit_on_signal(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}

/// As pid 1 of its namespace the wasm host would ignore SIGTERM; make it end at once instead.
fn exit_on_termination_signals() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: installing a handler that only calls _exit.
        unsafe { libc::signal(sig, exit_on_signal as *const () as libc::sighandler_t) };
    }
}

/// Closes every descriptor above stdio: close_range(2), or one close(2) each up to the
/// descriptor limit where the container's seccomp profile or the kernel refuses close_range.
fn close_inherited_descriptors() {
    // SAFETY: closing descriptors this process owns and no longer uses.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) == 0 {
            return;
        }
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 { limit.rlim_cur.min(1 << 20) as i32 } else { 1024 };
        for fd in 3..max {
            libc::close(fd);
        }
    }
}

impl Executor for WasmExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        exit_on_termination_signals();
        // The guest's host process never execs, so close-on-exec closes nothing here: whatever
        // the runtime's caller held stays open unless closed now (under isola's shim, its
        // sockets to containerd; a pod whose shim died would keep containerd from seeing it).
        // stdio stays; the guest's preopens are opened below.
        close_inherited_descriptors();
        let guest = guest_of(spec).map_err(ExecutorError::Other)?;
        let prepared = self
            .sandbox
            .start(&self.loaded, &guest, GuestStdio::default())
            .map_err(|e| ExecutorError::Other(e.to_string()))?;
        prepared.run_as_process(|| match &self.host_filter {
            Some(filter) => seccomp::install(filter),
            None => Ok(()),
        })
    }

    fn validate(&self, _spec: &Spec) -> Result<(), ExecutorValidationError> {
        Ok(())
    }

    /// Builds the guest's `/` (see `isola_linux::guest_root`) while the init is privileged. Its
    /// bind mounts must stay in the container's own mount namespace, never the host's.
    fn prepare_privileged(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let own_mount_ns = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Mount && n.path().is_none()));
        if !own_mount_ns {
            return Err(ExecutorError::Other("a wasm container needs a new mount namespace of its own (the guest's root is built in it)".into()));
        }
        guest_root::build().map(|_| ()).map_err(|e| ExecutorError::Other(format!("building the wasm guest's root: {e}")))
    }
}

/// What the guest gets, read from the spec inside the container (after `pivot_root`): its
/// args and environment exactly as the spec gives them, its working directory, and one
/// preopen, `/`, the view [`guest_root::build`] made of the container's filesystem. Read-only
/// mounts (and a read-only root) are read-only there by their own mount flags, so a writable
/// mount under a read-only root stays writable, as in a Linux container.
fn guest_of(spec: &Spec) -> Result<Guest, String> {
    let process = spec.process().as_ref().ok_or("the spec has no process")?;
    let args = process.args().clone().unwrap_or_default();
    let env = process
        .env()
        .iter()
        .flatten()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    Ok(Guest {
        module: PathBuf::from(args.first().cloned().unwrap_or_default()),
        args,
        env,
        preopens: vec![Preopen { host: PathBuf::from(guest_root::GUEST_ROOT), guest: "/".into(), read_only: false }],
        cwd: Some(process.cwd().to_string_lossy().into_owned()),
    })
}

/// The CPU limit of a spec in CPUs (`quota / period`), if it sets one.
pub(crate) fn cpu_limit(spec: &Spec) -> Option<f64> {
    let cpu = spec.linux().as_ref()?.resources().as_ref()?.cpu().as_ref()?;
    let quota = cpu.quota().filter(|q| *q > 0)?;
    let period = cpu.period().filter(|p| *p > 0).unwrap_or(100_000);
    Some(quota as f64 / period as f64)
}
