//! Prepare and run one guest: read and classify the binary, load it through the module cache,
//! link it against WASI (preview1 for core modules, preview2 for components), then run it with
//! limits and map how it ended to an `Outcome`. It must never link anything beyond WASI, and
//! never run guest code before `prepare` has returned successfully.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, ResourceTable};
use wasmtime::{
    Engine, ExternType, InstancePre, Linker, Module, ResourceLimiter, Store, StoreLimits,
    StoreLimitsBuilder, Trap, UpdateDeadline,
};
use wasmtime_wasi::cli::{InputFile, OutputFile};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::background;
use crate::cache::{Artifact, CacheOutcome, Kind, ModuleCache};
use crate::clock::{CoarseMonotonicClock, CoarseWallClock};
use crate::engine::{build_engine, fingerprint, start_watchdog, Allocator, Backend, Overrun};
use crate::error::{one_line, WasmError};
use crate::{Compiler, Guest, GuestStdio, SandboxConfig};

/// Exit code of a guest that trapped (128 + SIGABRT, as a native `abort()`).
pub const EXIT_TRAP: i32 = 134;
/// Exit code of a guest stopped by the wall-clock limit (as `timeout(1)`).
pub const EXIT_TIMEOUT: i32 = 124;
/// Exit code of a guest that used up its fuel budget.
pub const EXIT_FUEL: i32 = 135;
/// Exit code of a guest run that ended in an error that is not a trap, e.g. `proc_exit(n)`
/// with n ≥ 126, which WASI 0.1 does not allow (the wasmtime CLI exits 1 for these).
pub const EXIT_ERROR: i32 = 1;
/// Exit code when the host fails around the guest before it starts (as libcontainer's init
/// failing; a guest's own `proc_exit(255)` gives the same code, the stderr line tells them apart).
pub const EXIT_HOST: i32 = 255;
/// How long past its deadline a guest blocked in a host call may take before
/// [`Prepared::run_as_process`] ends the process (a guest in wasm code stops at the deadline).
pub const TIMEOUT_GRACE: Duration = Duration::from_millis(50);

/// How a guest run ended. See the crate docs for the exit-code table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `proc_exit(n)` (or 0 when `_start`/`main` returned).
    Exited(i32),
    /// A wasm trap; the message is wasmtime's, e.g. `out of bounds memory access`.
    Trap(String),
    /// An error that is not a trap, raised by the host around the running guest (e.g.
    /// `proc_exit(255)`: "exit with invalid exit status outside of [0..126)").
    Error(String),
    /// The wall-clock limit passed.
    Timeout { limit: Duration },
    /// The fuel budget ran out.
    FuelExhausted { budget: u64 },
    /// The host failed around the guest (e.g. its own seccomp filter could not be installed);
    /// the guest did not start.
    HostFailed(String),
}

impl Outcome {
    /// The process exit code for this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited(n) => *n,
            Outcome::Trap(_) => EXIT_TRAP,
            Outcome::Error(_) => EXIT_ERROR,
            Outcome::Timeout { .. } => EXIT_TIMEOUT,
            Outcome::FuelExhausted { .. } => EXIT_FUEL,
            Outcome::HostFailed(_) => EXIT_HOST,
        }
    }

    /// The one stderr line the runtime prints, or `None` for a normal exit.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Exited(_) => None,
            Outcome::Trap(msg) => Some(format!("wasm trap: {msg}")),
            Outcome::Error(msg) => Some(format!("wasm error: {msg}")),
            Outcome::Timeout { limit } => {
                Some(format!("wasm timeout: exceeded {} ms", limit.as_millis()))
            }
            Outcome::FuelExhausted { budget } => {
                Some(format!("wasm fuel exhausted: budget {budget}"))
            }
            Outcome::HostFailed(msg) => Some(format!("wasm host failed: {msg}")),
        }
    }
}

/// True when `bytes` start with the wasm magic `\0asm` (core module or component).
pub fn is_wasm(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\0asm")
}

/// Store data for a preview1 core module.
struct P1State {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// Store data for a preview2 component.
struct P2State {
    ctx: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for P2State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// The engines (configured once, see `engine.rs`) and the module cache. A `Compiler::Tiered`
/// sandbox has two engines: the primary (Cranelift) whose cached code later starts run, and the
/// baseline (Winch) that compiles a first start.
pub struct Sandbox {
    cfg: SandboxConfig,
    primary: Tier,
    baseline: Option<Tier>,
    cache: ModuleCache,
}

/// One engine with what is bound to it: the key of its artifacts and its WASI linkers (built on
/// first use and reused for every guest). Modules, linkers and stores of one engine never mix
/// with another's.
struct Tier {
    backend: Backend,
    engine: Engine,
    fingerprint: String,
    p1_linker: OnceLock<Result<Linker<P1State>, String>>,
    p2_linker: OnceLock<Result<wasmtime::component::Linker<P2State>, String>>,
}

impl Tier {
    fn new(cfg: &SandboxConfig, allocator: Allocator, backend: Backend) -> Result<Self, WasmError> {
        let engine = build_engine(cfg, allocator, backend)?;
        let fingerprint = fingerprint(&engine, backend);
        Ok(Self { backend, engine, fingerprint, p1_linker: OnceLock::new(), p2_linker: OnceLock::new() })
    }

    fn p1_linker(&self) -> Result<&Linker<P1State>, WasmError> {
        self.p1_linker
            .get_or_init(|| {
                let mut linker = Linker::new(&self.engine);
                wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut P1State| &mut s.wasi)
                    .map_err(|e| one_line(&e))?;
                Ok(linker)
            })
            .as_ref()
            .map_err(|cause| WasmError::Engine {
                cause: cause.clone(),
            })
    }

    fn p2_linker(&self) -> Result<&wasmtime::component::Linker<P2State>, WasmError> {
        self.p2_linker
            .get_or_init(|| {
                let mut linker = wasmtime::component::Linker::new(&self.engine);
                wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| one_line(&e))?;
                Ok(linker)
            })
            .as_ref()
            .map_err(|cause| WasmError::Engine {
                cause: cause.clone(),
            })
    }
}

/// Which of a sandbox's engines a loaded binary belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TierId {
    Primary,
    Baseline,
}

/// A guest that is loaded, linked and has its WASI context and store ready; `run` starts it.
pub struct Prepared {
    ready: Ready,
    engine: Engine,
    timeout: Option<Duration>,
    fuel: Option<u64>,
    cache_outcome: CacheOutcome,
}

/// A guest binary that is loaded (from the cache or compiled) and linked against WASI, but has
/// no WASI context yet. The runtime loads in the host process, then starts the guest inside
/// the container (after `pivot_root`), where the preopens are opened.
pub struct Loaded {
    pre: LoadedPre,
    cache_outcome: CacheOutcome,
    tier: TierId,
    backend: Backend,
}

enum LoadedPre {
    Module(InstancePre<P1State>),
    Component(CommandPre<P2State>),
}

impl Loaded {
    /// Whether the compiled code came from the cache or was compiled by this load.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache_outcome
    }

    /// The compiler that made the loaded code: `"cranelift"` or `"winch"`.
    pub fn compiler(&self) -> &'static str {
        match self.backend {
            Backend::Cranelift => "cranelift",
            Backend::Winch => "winch",
        }
    }
}

enum Ready {
    Module {
        store: Store<P1State>,
        pre: InstancePre<P1State>,
    },
    Component {
        store: Store<P2State>,
        pre: CommandPre<P2State>,
    },
}

impl Sandbox {
    /// Builds the engine for `cfg` with the default allocator (on-demand; see [`Allocator`]).
    pub fn new(cfg: &SandboxConfig, cache: ModuleCache) -> Result<Self, WasmError> {
        Self::with_allocator(cfg, cache, Allocator::default())
    }

    /// As [`Sandbox::new`], choosing the instance allocator (for measurements).
    pub fn with_allocator(
        cfg: &SandboxConfig,
        cache: ModuleCache,
        allocator: Allocator,
    ) -> Result<Self, WasmError> {
        let (primary, baseline) = match cfg.compiler {
            Compiler::Cranelift => (Tier::new(cfg, allocator, Backend::Cranelift)?, None),
            Compiler::Winch => (Tier::new(cfg, allocator, Backend::Winch)?, None),
            Compiler::Tiered => (
                Tier::new(cfg, allocator, Backend::Cranelift)?,
                Some(Tier::new(cfg, allocator, Backend::Winch)?),
            ),
        };
        Ok(Self { cfg: cfg.clone(), primary, baseline, cache })
    }

    fn tier(&self, id: TierId) -> &Tier {
        match (id, &self.baseline) {
            (TierId::Baseline, Some(baseline)) => baseline,
            _ => &self.primary,
        }
    }

    /// The configured engine, for callers that validate modules without loading them (the
    /// fuzz targets); loading and running go through [`Sandbox::load`] and [`Sandbox::start`].
    pub fn engine(&self) -> &Engine {
        &self.primary.engine
    }

    /// The fingerprint that keys the primary engine's cache artifacts (hex).
    pub fn fingerprint(&self) -> &str {
        &self.primary.fingerprint
    }

    /// Loads (from cache, or compiles and stores) and links the guest, and builds its WASI
    /// context. Every format, link and preopen error is returned here, before guest code runs.
    pub fn prepare(&self, guest: &Guest) -> Result<Prepared, WasmError> {
        self.prepare_with_stdio(guest, GuestStdio::default())
    }

    /// As [`Sandbox::prepare`], with stdio replaced where `stdio` says so.
    pub fn prepare_with_stdio(
        &self,
        guest: &Guest,
        stdio: GuestStdio,
    ) -> Result<Prepared, WasmError> {
        let loaded = self.load(&guest.module)?;
        self.start(&loaded, guest, stdio)
    }

    /// Reads, loads (cache or compile) and links a module file. Every format and link error is
    /// returned here, before any guest state exists.
    pub fn load(&self, module: &Path) -> Result<Loaded, WasmError> {
        let bytes = read_module(module)?;
        self.load_bytes(module, bytes)
    }

    /// As [`Sandbox::load`] for bytes the caller read itself (`label` names them in errors).
    pub fn load_bytes(&self, label: &Path, bytes: Vec<u8>) -> Result<Loaded, WasmError> {
        check_header(label, &bytes)?;
        self.check_size(label, &bytes)?;
        let kind = classify(&bytes);
        let (artifact, cache_outcome, tier) = match &self.baseline {
            None => {
                let (artifact, outcome) = self.cache.load_or_compile(
                    &self.primary.engine,
                    &self.primary.fingerprint,
                    label,
                    &bytes,
                    kind,
                    self.cfg.compile.as_ref(),
                )?;
                (artifact, outcome, TierId::Primary)
            }
            Some(baseline) => self.load_tiered(baseline, label, &bytes, kind)?,
        };
        let t = self.tier(tier);
        let pre = match artifact {
            Artifact::Module(module) => {
                self.check_resources(label, Some(module.resources_required()))?;
                LoadedPre::Module(self.link_module(t, label, &module)?)
            }
            Artifact::Component(component) => {
                self.check_resources(label, component.resources_required())?;
                LoadedPre::Component(self.link_component(t, label, &component)?)
            }
        };
        // Only a module that will run is worth the optimised compile.
        if let (TierId::Baseline, Some(limits)) = (tier, &self.cfg.compile) {
            if let Some(exe) = &limits.background_compiler {
                let job = background::Job {
                    cfg: &self.cfg,
                    fingerprint: &self.primary.fingerprint,
                    bytes: &bytes,
                    kind,
                    limits,
                };
                self.cache.fill_in_background(exe, &job);
            }
        }
        drop(bytes);
        Ok(Loaded { pre, cache_outcome, tier, backend: t.backend })
    }

    /// The tiered load: the optimised artifact if the cache holds it; otherwise the baseline
    /// (cached, or compiled now). A module the baseline compiler refuses is compiled optimised
    /// at once (the validator is the same, so an invalid module is refused either way, with
    /// Cranelift's message).
    fn load_tiered(&self, baseline: &Tier, label: &Path, bytes: &[u8], kind: Kind) -> Result<(Artifact, CacheOutcome, TierId), WasmError> {
        let limits = self.cfg.compile.as_ref();
        if let Some(optimised) = self.cache.load_cached(&self.primary.engine, &self.primary.fingerprint, bytes, kind)? {
            return Ok((optimised, CacheOutcome::Hit, TierId::Primary));
        }
        match self.cache.load_or_compile(&baseline.engine, &baseline.fingerprint, label, bytes, kind, limits) {
            Ok((artifact, outcome)) => Ok((artifact, outcome, TierId::Baseline)),
            Err(WasmError::Invalid { cause, .. }) => {
                tracing::warn!(module = %label.display(), cause = %cause, "the baseline compiler refused the module; compiling it optimised");
                let (artifact, outcome) = self.cache.load_or_compile(&self.primary.engine, &self.primary.fingerprint, label, bytes, kind, limits)?;
                Ok((artifact, outcome, TierId::Primary))
            }
            Err(e) => Err(e),
        }
    }

    /// Builds the guest's WASI context (opening its preopens) and store for a loaded binary.
    pub fn start(&self, loaded: &Loaded, guest: &Guest, stdio: GuestStdio) -> Result<Prepared, WasmError> {
        let mut wasi = self.wasi_builder(guest, stdio)?;
        let engine = &self.tier(loaded.tier).engine;
        let ready = match &loaded.pre {
            LoadedPre::Module(pre) => {
                let data = P1State { wasi: wasi.build_p1(), limits: self.limits() };
                let store = self.new_store(engine, data, |s| &mut s.limits)?;
                Ready::Module { store, pre: pre.clone() }
            }
            LoadedPre::Component(pre) => {
                let data = P2State { ctx: wasi.build(), table: ResourceTable::new(), limits: self.limits() };
                let store = self.new_store(engine, data, |s| &mut s.limits)?;
                Ready::Component { store, pre: pre.clone() }
            }
        };
        Ok(Prepared {
            ready,
            engine: engine.clone(),
            timeout: self.cfg.timeout,
            fuel: self.cfg.fuel,
            cache_outcome: loaded.cache_outcome,
        })
    }

    /// Fills the cache for `module` (node warm-up) without running it, with the primary
    /// engine's code (optimised, for a tiered sandbox).
    pub fn precompile(&self, module: &Path) -> Result<CacheOutcome, WasmError> {
        let bytes = read_module(module)?;
        self.check_size(module, &bytes)?;
        let kind = classify(&bytes);
        let (_, outcome) = self.cache.load_or_compile(
            &self.primary.engine,
            &self.primary.fingerprint,
            module,
            &bytes,
            kind,
            self.cfg.compile.as_ref(),
        )?;
        Ok(outcome)
    }

    /// With compile limits set, a module over `max_module_bytes` is refused before it is
    /// hashed, looked up or parsed.
    fn check_size(&self, path: &Path, bytes: &[u8]) -> Result<(), WasmError> {
        match &self.cfg.compile {
            Some(l) if bytes.len() as u64 > l.max_module_bytes => {
                Err(WasmError::TooLarge { path: path.to_path_buf(), limit: l.max_module_bytes })
            }
            _ => Ok(()),
        }
    }

    /// A module whose declared initial memory or table is over the limits could never be
    /// instantiated: refuse it at load (`create`), not as a trap once the container started.
    fn check_resources(&self, path: &Path, required: Option<wasmtime::ResourcesRequired>) -> Result<(), WasmError> {
        let Some(required) = required else { return Ok(()) };
        let over = |cause: String| Err(WasmError::OverLimit { path: path.to_path_buf(), cause });
        if let Some(pages) = required.max_initial_memory_size {
            let bytes = pages.saturating_mul(65536);
            if bytes > self.cfg.max_memory {
                return over(format!(
                    "declares an initial memory of {bytes} bytes, above the limit of {} bytes (io.isola.wasm.max-memory, or the container's memory limit)",
                    self.cfg.max_memory
                ));
            }
        }
        if let Some(elements) = required.max_initial_table_size {
            if elements > self.cfg.max_table_elements as u64 {
                return over(format!(
                    "declares an initial table of {elements} elements, above the limit of {}",
                    self.cfg.max_table_elements
                ));
            }
        }
        Ok(())
    }

    fn limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(usize::try_from(self.cfg.max_memory).unwrap_or(usize::MAX))
            .table_elements(self.cfg.max_table_elements)
            .instances(self.cfg.max_instances)
            .tables(self.cfg.max_instances)
            .memories(self.cfg.max_instances)
            // memory.grow / table.grow past a limit returns -1 to the guest instead of trapping,
            // as on a host where malloc returns NULL.
            .trap_on_grow_failure(false)
            .build()
    }

    fn wasi_builder(&self, guest: &Guest, stdio: GuestStdio) -> Result<WasiCtxBuilder, WasmError> {
        let mut b = WasiCtxBuilder::new();
        // Must precede `preopened_dir`: each Dir captures it. Filesystem calls block this thread
        // directly instead of hopping through a tokio blocking pool (we run one guest, sync).
        b.allow_blocking_current_thread(true);
        b.args(&guest.args);
        b.envs(&guest.env);
        if let Some(cwd) = &guest.cwd {
            b.initial_cwd(cwd);
        }
        b.wall_clock(CoarseWallClock::new(self.cfg.clock_resolution));
        b.monotonic_clock(CoarseMonotonicClock::new(self.cfg.clock_resolution));
        // No network: deny TCP, UDP and name lookup outright (the default already denies every
        // address; this removes the socket surface itself). Preview1 has no socket creation.
        b.allow_tcp(false);
        b.allow_udp(false);
        b.allow_ip_name_lookup(false);
        match stdio.stdin {
            Some(f) => b.stdin(InputFile::new(f)),
            None => b.inherit_stdin(),
        };
        match stdio.stdout {
            Some(f) => b.stdout(OutputFile::new(f)),
            None => b.inherit_stdout(),
        };
        match stdio.stderr {
            Some(f) => b.stderr(OutputFile::new(f)),
            None => b.inherit_stderr(),
        };
        for p in &guest.preopens {
            let perms = if p.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            b.preopened_dir(&p.host, &p.guest, perms)
                .map_err(|e| WasmError::Preopen {
                    host: p.host.clone(),
                    guest: p.guest.clone(),
                    cause: one_line(&e),
                })?;
        }
        Ok(b)
    }

    fn new_store<T: 'static>(
        &self,
        engine: &Engine,
        data: T,
        limits: fn(&mut T) -> &mut dyn ResourceLimiter,
    ) -> Result<Store<T>, WasmError> {
        let mut store = Store::new(engine, data);
        store.limiter(limits);
        if let Some(fuel) = self.cfg.fuel {
            store.set_fuel(fuel).map_err(|e| WasmError::Engine {
                cause: one_line(&e),
            })?;
        }
        // The epoch only moves when some guest's timer fires. Each store checks its own
        // deadline, so a timer of another guest on the same engine never stops this one.
        if let Some(timeout) = self.cfg.timeout {
            let deadline = Instant::now() + timeout;
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |_| {
                if Instant::now() >= deadline {
                    Ok(UpdateDeadline::Interrupt)
                } else {
                    Ok(UpdateDeadline::Continue(1))
                }
            });
        }
        Ok(store)
    }

    fn link_module(&self, tier: &Tier, path: &Path, module: &Module) -> Result<InstancePre<P1State>, WasmError> {
        let linker = tier.p1_linker()?;
        // A scratch store (empty WASI context) only to look imports up by name.
        let data = P1State {
            wasi: WasiCtxBuilder::new().build_p1(),
            limits: self.limits(),
        };
        let mut store = Store::new(&tier.engine, data);
        for import in module.imports() {
            if linker
                .get(&mut store, import.module(), import.name())
                .is_err()
            {
                return Err(WasmError::UnknownImport {
                    path: path.to_path_buf(),
                    kind: extern_kind(&import.ty()),
                    module: import.module().to_string(),
                    name: import.name().to_string(),
                });
            }
        }
        let pre = linker
            .instantiate_pre(module)
            .map_err(|e| WasmError::Link {
                path: path.to_path_buf(),
                cause: one_line(&e),
            })?;
        match module.get_export("_start") {
            Some(ExternType::Func(f)) if f.params().len() == 0 && f.results().len() == 0 => {}
            Some(_) => {
                return Err(WasmError::NotCommand {
                    path: path.to_path_buf(),
                    cause: "export `_start` is not a function of no arguments".into(),
                })
            }
            None => {
                return Err(WasmError::NotCommand {
                    path: path.to_path_buf(),
                    cause: "no `_start` export".into(),
                })
            }
        }
        Ok(pre)
    }

    fn link_component(&self, tier: &Tier, path: &Path, component: &Component) -> Result<CommandPre<P2State>, WasmError> {
        let linker = tier.p2_linker()?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| WasmError::Link {
                path: path.to_path_buf(),
                cause: one_line(&e),
            })?;
        let pre = CommandPre::new(pre).map_err(|e| WasmError::NotCommand {
            path: path.to_path_buf(),
            cause: one_line(&e),
        })?;
        Ok(pre)
    }
}

impl Prepared {
    /// Whether the compiled code came from the cache or was compiled by this `prepare`.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache_outcome
    }

    /// Runs the guest to completion on this thread and says how it ended. Never panics on guest
    /// behaviour; the caller prints `reason()` and exits with `exit_code()`.
    pub fn run(self) -> Outcome {
        self.run_confined(|| Ok(()))
    }

    /// Like `run`, calling `confine` after the guest is instantiated and before its first
    /// instruction of `_start` (the point where the host's own seccomp filter goes on). If
    /// `confine` fails the guest does not run.
    pub fn run_confined(self, confine: impl FnOnce() -> std::io::Result<()>) -> Outcome {
        self.run_with(confine, false)
    }

    /// For a process that exists only to run this guest (the container's wasm host): as
    /// `run_confined`, and the wall-clock limit holds whatever the guest is doing. A guest still
    /// running [`TIMEOUT_GRACE`] after its deadline (blocked in a host call: sleep, a read of a
    /// pipe, an open of a FIFO, where epoch interruption cannot reach it) ends the process with
    /// the timeout's exit code and reason line. Otherwise it prints `reason()` and exits with
    /// `exit_code()`. Never returns.
    pub fn run_as_process(self, confine: impl FnOnce() -> std::io::Result<()>) -> ! {
        let outcome = self.run_with(confine, true);
        if let Some(reason) = outcome.reason() {
            eprintln!("{reason}");
        }
        std::process::exit(outcome.exit_code())
    }

    /// Runs the guest; `owns_process` says whether the timer may end the process on overrun.
    fn run_with(self, confine: impl FnOnce() -> std::io::Result<()>, owns_process: bool) -> Outcome {
        let overrun = |limit| {
            let timeout = Outcome::Timeout { limit };
            match (owns_process, timeout.reason()) {
                (true, Some(line)) => Overrun::ExitProcess { grace: TIMEOUT_GRACE, code: timeout.exit_code(), line },
                _ => Overrun::Wait,
            }
        };
        let _watchdog = match self.timeout {
            Some(limit) => match start_watchdog(&self.engine, limit, overrun(limit)) {
                Ok(w) => Some(w),
                // Fail closed: no timer means no timeout, so do not start the guest.
                Err(e) => return Outcome::Trap(format!("cannot start the timeout timer: {e}")),
            },
            None => None,
        };
        let result = match self.ready {
            Ready::Module { mut store, pre } => (|| {
                let instance = pre.instantiate(&mut store)?;
                let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                confine().map_err(|e| wasmtime::Error::new(ConfineFailed(e)))?;
                start.call(&mut store, ())
            })(),
            Ready::Component { mut store, pre } => (|| {
                let command = pre.instantiate(&mut store)?;
                confine().map_err(|e| wasmtime::Error::new(ConfineFailed(e)))?;
                match command.wasi_cli_run().call_run(&mut store)? {
                    Ok(()) => Ok(()),
                    Err(()) => Err(I32Exit(1).into()),
                }
            })(),
        };
        classify_end(result, self.timeout, self.fuel)
    }
}

fn classify_end(
    result: wasmtime::Result<()>,
    timeout: Option<Duration>,
    fuel: Option<u64>,
) -> Outcome {
    let err = match result {
        Ok(()) => return Outcome::Exited(0),
        Err(e) => e,
    };
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return Outcome::Exited(exit.0);
    }
    if let Some(ConfineFailed(e)) = err.downcast_ref::<ConfineFailed>() {
        return Outcome::HostFailed(format!("confining the wasm host: {e}"));
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => Outcome::Timeout {
            limit: timeout.unwrap_or_default(),
        },
        Some(Trap::OutOfFuel) => Outcome::FuelExhausted {
            budget: fuel.unwrap_or_default(),
        },
        // wasmtime's Display is "wasm trap: <message>"; keep only the message.
        Some(trap) => {
            let msg = trap.to_string();
            Outcome::Trap(msg.strip_prefix("wasm trap: ").unwrap_or(&msg).to_string())
        }
        None => Outcome::Error(one_line(&err)),
    }
}

/// The `confine` step of [`Prepared::run_confined`] failed: a host failure, not a guest trap.
#[derive(Debug)]
struct ConfineFailed(std::io::Error);

impl std::fmt::Display for ConfineFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "confining the wasm host: {}", self.0)
    }
}

impl std::error::Error for ConfineFailed {}

fn extern_kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Global(_) => "global",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        ExternType::Tag(_) => "tag",
    }
}

/// Reads the module and checks the magic before anything parses it.
fn read_module(path: &Path) -> Result<Vec<u8>, WasmError> {
    let bytes = std::fs::read(path).map_err(|source| WasmError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    check_header(path, &bytes)?;
    Ok(bytes)
}

/// Checks the magic and the minimal header length before anything parses the bytes.
fn check_header(path: &Path, bytes: &[u8]) -> Result<(), WasmError> {
    if !is_wasm(bytes) {
        return Err(WasmError::NotWasm {
            path: path.to_path_buf(),
        });
    }
    if bytes.len() < 8 {
        return Err(WasmError::Truncated {
            path: path.to_path_buf(),
            cause: "header shorter than 8 bytes".into(),
        });
    }
    Ok(())
}

fn classify(bytes: &[u8]) -> Kind {
    // The preamble is `\0asm`, a u16 version and a u16 layer: layer 0 = core module,
    // layer 1 = component (what `wasmparser::Parser::is_component` checks).
    if bytes.get(6..8) == Some(&[1, 0]) {
        Kind::Component
    } else {
        Kind::Module
    }
}
