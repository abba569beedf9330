//! `create`, `start` and `run`: read the caller's bundle, plan it through policy, claim the
//! state directory, and hand the planned spec to the container layer. Any failure after the
//! claim undoes everything it made (processes, cgroup, state), so a bad bundle leaves nothing.

use std::fs;
use std::path::{Path, PathBuf};

use isola_linux::container::{self, CreateOptions};
use isola_linux::executor::{FilteredExecutor, LinuxExecutor};
use isola_linux::setup_lock::SetupLock;
use isola_linux::{host, seccomp, wait};
use isola_policy::{plan_container, HostFacts, Mode};
use oci_spec::runtime::Spec;

use crate::error::{RuntimeError, Step};
use crate::state::{write_atomic, Record};
use crate::wasm::{self, WasmExecutor};
use crate::Runtime;
use std::rc::Rc;

/// Options of `create` and `run`.
#[derive(Debug, Clone, Default)]
pub struct CreateArgs {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: i32,
    /// The init's stdio when it is not this process's own (a shim's fifos).
    pub stdio: Option<std::sync::Arc<crate::Stdio>>,
}

impl Runtime {
    /// Creates a container; its init waits for `start`. Returns the init's pid.
    pub fn create(&self, id: &str, args: &CreateArgs) -> Result<i32, RuntimeError> {
        self.create_inner(id, args, true)
    }

    /// Starts a created container.
    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.existing(id, "start")?;
        let mut c = container::load(&self.lc_root(id), id).step(id, "start")?;
        // As runc's, `start` returns once the workload runs, and poststart hooks run after
        // that: a signal sent right after `start` reaches the workload, not the setup code
        // (which, as a pid namespace's init with no handler, the kernel would drop it for).
        let dir = self.container_dir(id);
        c.start_then(|| {
            if !isola_linux::setup_lock::wait_released(&dir, START_WAIT) {
                tracing::warn!(id, "the workload had not started {} ms after start", START_WAIT.as_millis());
            }
        })
        .map_err(isola_linux::LinuxError::from)
        .step(id, "start")
    }

    /// `run`: create and start; in the foreground, wait and return the workload's exit code
    /// (128+signal if it was killed), then delete the container.
    pub fn run(&self, id: &str, args: &CreateArgs, detach: bool) -> Result<i32, RuntimeError> {
        if detach {
            self.create(id, args)?;
            self.start(id).inspect_err(|_| {
                let _ = self.delete(id, true);
            })?;
            return Ok(0);
        }
        wait::become_subreaper().step(id, "run")?;
        let pid = self.create_inner(id, args, false)?;
        if let Err(e) = self.start(id) {
            let _ = self.delete(id, true);
            return Err(e);
        }
        let code = wait::wait_forwarding(pid).step(id, "wait");
        if let Err(e) = self.delete(id, true) {
            tracing::error!("{e}");
        }
        code
    }

    fn create_inner(&self, id: &str, args: &CreateArgs, detach: bool) -> Result<i32, RuntimeError> {
        isola_policy::validate_id(id).step(id, "create")?;
        let bundle = fs::canonicalize(&args.bundle)
            .map_err(|e| RuntimeError::new(id, "read bundle", format!("{}: {e}", args.bundle.display())))?;
        let spec = load_spec(&bundle).step(id, "read bundle")?;
        let root_path = spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default();
        let rootfs = host::resolve_rootfs(&bundle, &root_path).step(id, "rootfs")?;
        let smart = isola_policy::mode::select(&spec.annotations().clone().unwrap_or_default())
            .is_ok_and(|s| s == isola_policy::WasmSelection::Smart);
        let host = HostFacts {
            bounding: host::bounding_set().step(id, "host facts")?,
            oom_score_adj: host::oom_score_adj(),
            entrypoint_is_wasm: smart && entrypoint(&spec, &rootfs).is_some_and(|p| host::is_wasm_file(&rootfs, &p)),
            rootfs,
            systemd_cgroup: self.systemd_cgroup,
        };
        let plan = plan_container(id, spec, &bundle, &self.node, &host).step(id, "policy")?;
        for clamp in &plan.clamps {
            tracing::info!(id, "policy clamp: {clamp}");
        }
        // A wasm module is loaded and linked now, before anything exists to clean up.
        let workload = match &plan.wasm {
            Some(wasm_plan) => Workload::Wasm(self.load_module(id, wasm_plan, &plan.spec, &host.rootfs)?),
            None => Workload::Linux,
        };

        // libcontainer applies disableOOMKiller on v1 (vendor/libcontainer/PATCHES.md); v2 has no
        // such switch, and runc ignores it there. Refused, never ignored.
        let resources = plan.spec.linux().as_ref().and_then(|l| l.resources().as_ref());
        if resources.and_then(crate::inspect::oom_killer_disabled) == Some(true) && isola_linux::cgroup::is_unified() {
            return Err(RuntimeError::new(
                id,
                "policy",
                "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer (unset it)",
            ));
        }
        let dir = self.claim(id)?;
        let result = self.build(id, &dir, args, &plan.spec, plan.mode, &bundle, detach, workload);
        if result.is_err() {
            self.undo_create(id);
        }
        result
    }

    fn load_module(&self, id: &str, plan: &isola_policy::WasmPlan, spec: &Spec, rootfs: &Path) -> Result<WasmExecutor, RuntimeError> {
        let module = entrypoint(spec, rootfs)
            .ok_or_else(|| RuntimeError::new(id, "wasm module", "process.args[0] is not a file in the rootfs"))?;
        let mut bytes = Vec::new();
        use std::io::Read;
        // Read at most one byte past the node's limit: an oversized module is refused without
        // being read whole (the sandbox names the limit).
        host::open_in_root(rootfs, &module)
            .and_then(|f| f.take(plan.max_module_bytes.saturating_add(1)).read_to_end(&mut bytes))
            .map_err(|e| RuntimeError::new(id, "wasm module", format!("{}: {e}", module.display())))?;
        let sandbox = wasm::sandbox(plan, wasm::cpu_limit(spec)).step(id, "wasm engine")?;
        let loaded = sandbox.load_bytes(&module, bytes).step(id, "wasm module")?;
        tracing::debug!(id, cache = ?loaded.cache_outcome(), compiler = loaded.compiler(), "wasm module loaded");
        let host_filter = if plan.host_seccomp {
            let profile = isola_policy::seccomp::wasm_host_profile();
            let mut filter = seccomp::cached(&profile, &self.seccomp_cache()).step(id, "wasm host seccomp")?;
            // TSYNC: the timeout watchdog thread, started before instantiation, is confined too.
            filter.flags |= libc::SECCOMP_FILTER_FLAG_TSYNC as u32;
            Some(Rc::new(filter))
        } else {
            None
        };
        Ok(WasmExecutor { sandbox: Rc::new(sandbox), loaded: Rc::new(loaded), host_filter })
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        id: &str,
        dir: &Path,
        args: &CreateArgs,
        spec: &Spec,
        mode: Mode,
        bundle: &Path,
        detach: bool,
        workload: Workload,
    ) -> Result<i32, RuntimeError> {
        // A cacheable seccomp profile is compiled (or fetched) here and installed by the
        // executor; libcontainer gets the spec without it, so it does not compile it again.
        let mut lc_spec = spec.clone();
        // runc sets HOME at exec time when the spec has none; so does isola, in the spec
        // libcontainer runs (planned.json keeps none: an exec as another user gets its own).
        if matches!(workload, Workload::Linux) {
            if let (Some(process), Some(root)) = (lc_spec.process_mut(), spec.root()) {
                default_home(process, root.path());
            }
        }
        let filter = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            Some(profile) if seccomp::is_cacheable(profile) => {
                let filter = seccomp::cached(profile, &self.seccomp_cache()).step(id, "seccomp")?;
                seccomp::store(dir, &dir.join(SECCOMP_FILE), &filter).step(id, "write state")?;
                if let Some(l) = lc_spec.linux_mut() {
                    l.set_seccomp(None);
                }
                Some(filter)
            }
            _ => None,
        };
        write_atomic(&dir.join("planned.json"), &serde_json::to_vec(spec).step(id, "write state")?)
            .step(id, "write state")?;
        write_atomic(&dir.join("config.json"), &serde_json::to_vec(&lc_spec).step(id, "write state")?)
            .step(id, "write state")?;
        let record = Record { bundle: bundle.to_path_buf(), mode };
        write_atomic(&dir.join("isola.json"), &serde_json::to_vec(&record).step(id, "write state")?)
            .step(id, "write state")?;
        let lc_root = self.lc_root(id);
        let opts = CreateOptions {
            id,
            state_root: &lc_root,
            bundle: dir,
            caller_bundle: bundle,
            pid_file: args.pid_file.as_deref(),
            console_socket: args.console_socket.as_deref(),
            preserve_fds: args.preserve_fds,
            systemd: self.systemd_cgroup,
            detach,
            stdio: args.stdio.as_deref(),
        };
        // Held from here until the init starts its workload (see isola_linux::setup_lock).
        let _setup = SetupLock::take(dir).step(id, "create container")?;
        let c = match workload {
            Workload::Linux => container::create(&opts, FilteredExecutor { filter, inner: LinuxExecutor, init_of: Some(id.to_string()), execs_workload: true }),
            Workload::Wasm(wasm) => container::create(&opts, FilteredExecutor { filter, inner: wasm, init_of: Some(id.to_string()), execs_workload: false }),
        }
        .step(id, "create container")?;
        c.pid().map(|p| p.as_raw()).ok_or_else(|| RuntimeError::new(id, "create container", "no init pid recorded"))
    }

    /// Best-effort removal of everything a failed create may have made: exactly what
    /// `delete --force` removes after an interrupted create.
    fn undo_create(&self, id: &str) {
        if let Err(e) = self.delete(id, true) {
            tracing::warn!(id, "cleaning up a failed create: {e}");
        }
    }
}

/// How long `start` waits for the workload to be exec'd before returning anyway.
const START_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// runc gives a process whose environment has no `HOME` the home directory of its uid in the
/// image's `/etc/passwd`, or `/`.
pub(crate) fn default_home(process: &mut oci_spec::runtime::Process, rootfs: &Path) {
    let mut env = process.env().clone().unwrap_or_default();
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return;
    }
    env.push(format!("HOME={}", host::home_of(rootfs, process.user().uid())));
    process.set_env(Some(env));
}

/// The compiled seccomp filter of a container, in its state dir (exec installs it too).
pub(crate) const SECCOMP_FILE: &str = "seccomp.bpf";

/// Reads `config.json` of a bundle with an error that names the file and the fault.
pub(crate) fn load_spec(bundle: &Path) -> Result<Spec, String> {
    let path = bundle.join("config.json");
    let bytes = host::read_regular_file(&path, MAX_CONFIG_BYTES).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Largest `config.json` read (runc's specs are kilobytes; a hostile one must not fill memory).
const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// The workload a container runs.
enum Workload {
    Linux,
    Wasm(WasmExecutor),
}

/// `process.args[0]` found inside the rootfs (PATH lookup for bare names).
fn entrypoint(spec: &Spec, rootfs: &Path) -> Option<PathBuf> {
    let process = spec.process().as_ref()?;
    let arg0 = process.args().as_ref().and_then(|a| a.first())?;
    let env = process.env().clone().unwrap_or_default();
    host::resolve_entrypoint(rootfs, arg0, &env, process.cwd())
}
