//! The wasm workload: the module is loaded (cache or compile) and linked in the runtime
//! process before the container exists, so a bad module fails `create` with nothing made; the
//! guest's WASI context is built inside the container after `pivot_root`, and the guest runs
//! as the container's init, under a second seccomp filter of the wasm host's own (installed
//! after instantiation: no exec, sockets, fork or executable mappings). The guest never sees
//! /proc, /sys or /dev: through /proc the wasm host's own memory (/proc/self/mem) and original
//! environment would be one open() away.

use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use isola_linux::libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use isola_linux::seccomp::{self, CompiledFilter};
use isola_policy::WasmPlan;
use isola_wasm::{CompileLimits, Guest, GuestStdio, Loaded, ModuleCache, Preopen, Sandbox, SandboxConfig};
use oci_spec::runtime::Spec;

/// Top-level directories the guest never gets.
const HIDDEN: &[&str] = &["proc", "sys", "dev"];

/// Filesystem magic numbers of kernel pseudo-filesystems a guest must never reach.
const PSEUDO_FS: &[i64] = &[
    0x9fa0,     // proc
    0x6265_6572, // sysfs
    0x1cd1,     // devpts
    0x0027_e0eb, // cgroup
    0x6367_7270, // cgroup2
    0x6462_6720, // debugfs
    0x7363_6673, // securityfs
    0xcafe_4a11, // bpf
    0x7472_6163, // tracefs
];

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
        }),
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

impl Executor for WasmExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        exit_on_termination_signals();
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
}

/// What the guest gets, read from the spec inside the container (after `pivot_root`).
fn guest_of(spec: &Spec) -> Result<Guest, String> {
    let process = spec.process().as_ref().ok_or("the spec has no process")?;
    let args = process.args().clone().unwrap_or_default();
    let env = process
        .env()
        .iter()
        .flatten()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let root_ro = spec.root().as_ref().is_some_and(|r| r.readonly() == Some(true));
    Ok(Guest {
        module: PathBuf::from(args.first().cloned().unwrap_or_default()),
        args,
        env,
        preopens: preopens(Path::new("/"), root_ro, spec)?,
        cwd: Some(process.cwd().to_string_lossy().into_owned()),
    })
}

/// One preopen per top-level directory of the container's root, minus the hidden ones and
/// anything that resolves into them or is a kernel pseudo-filesystem.
fn preopens(root: &Path, root_ro: bool, spec: &Spec) -> Result<Vec<Preopen>, String> {
    let mut out = Vec::new();
    let entries = fs::read_dir(root).map_err(|e| format!("listing the container root: {e}"))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if HIDDEN.contains(&name.as_str()) {
            continue;
        }
        let path = root.join(&name);
        let Ok(resolved) = fs::canonicalize(&path) else { continue };
        let first = resolved.components().nth(1).map(|c| c.as_os_str().to_string_lossy().into_owned());
        if first.as_deref().is_some_and(|f| HIDDEN.contains(&f)) || resolved == Path::new("/") {
            continue;
        }
        let Ok(meta) = fs::metadata(&resolved) else { continue };
        if !meta.is_dir() || is_pseudo_fs(&resolved) {
            continue;
        }
        let guest_path = format!("/{name}");
        let mount_ro = spec.mounts().iter().flatten().any(|m| {
            m.destination() == Path::new(&guest_path)
                && m.options().iter().flatten().any(|o| o == "ro")
        });
        out.push(Preopen { host: resolved, guest: guest_path, read_only: root_ro || mount_ro });
    }
    out.sort_by(|a, b| a.guest.cmp(&b.guest));
    Ok(out)
}

fn is_pseudo_fs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else { return true };
    // SAFETY: statfs writes into a zeroed struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return true;
    }
    PSEUDO_FS.contains(&(st.f_type as i64))
}

/// The CPU limit of a spec in CPUs (`quota / period`), if it sets one.
pub(crate) fn cpu_limit(spec: &Spec) -> Option<f64> {
    let cpu = spec.linux().as_ref()?.resources().as_ref()?.cpu().as_ref()?;
    let quota = cpu.quota().filter(|q| *q > 0)?;
    let period = cpu.period().filter(|p| *p > 0).unwrap_or(100_000);
    Some(quota as f64 / period as f64)
}
