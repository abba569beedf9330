//! isola's wasm layer: runs one untrusted WASI guest (a preview1 core module or a
//! `wasi:cli/command` component) in wasmtime, with limits, coarsened clocks, exactly the given
//! args/env/preopens, and a verified on-disk cache of compiled code. It must never hand the guest
//! anything the caller did not list (host env, sockets, paths outside the preopens).
//!
//! # Use
//! ```no_run
//! use isola_wasm::{Guest, ModuleCache, Sandbox, SandboxConfig};
//! # fn main() -> Result<(), isola_wasm::WasmError> {
//! let sandbox = Sandbox::new(&SandboxConfig::default(), ModuleCache::new("/var/lib/isola/wasm-cache".into())?)?;
//! let guest = Guest {
//!     module: "/app/hello.wasm".into(),
//!     args: vec!["hello".into()],
//!     env: vec![("LANG".into(), "C".into())],
//!     preopens: vec![],
//!     cwd: None,
//! };
//! let prepared = sandbox.prepare(&guest)?;   // every link/format error is here, before guest code
//! let outcome = prepared.run();              // runs to completion, stdio inherited
//! if let Some(line) = outcome.reason() { eprintln!("{line}"); }
//! std::process::exit(outcome.exit_code());
//! # }
//! ```
//!
//! # Exit codes
//! | guest ends by | `Outcome` | exit code | stderr line (`Outcome::reason`) |
//! |---|---|---|---|
//! | `proc_exit(n)` / `exit(n)`, n < 126 | `Exited(n)` | `n` | none |
//! | `proc_exit(n)`, n ≥ 126 (outside WASI 0.1's range; wasmtime raises an error) | `Error(msg)` | **1**, as the wasmtime CLI | `wasm error: exit with invalid exit status outside of [0..126)` |
//! | any other error of the host around the running guest, or a failed instantiation (e.g. initial memory above `max_memory`) | `Error(msg)` | **1**, as the wasmtime CLI | `wasm error: <msg>` |
//! | returning from `main` / `_start` | `Exited(0)` | 0 | none |
//! | a component's `run` returning `err`, or `wasi:cli/exit.exit(err)` | `Exited(1)` | 1 | none |
//! | a component's `wasi:cli/exit.exit-with-code(n)` | `Exited(n)` | n | none |
//! | a trap (out of bounds, `unreachable`, stack exhausted, ...) | `Trap(msg)` | **134** | `wasm trap: <msg>` e.g. `wasm trap: out of bounds memory access` |
//! | wall-clock limit (epoch interruption) | `Timeout { limit }` | **124** | `wasm timeout: exceeded N ms` |
//! | instruction budget exhausted | `FuelExhausted { budget }` | **135** | `wasm fuel exhausted: budget N` |
//! | the host failed around the guest (its seccomp filter refused), guest never started | `HostFailed(msg)` | **255** | `wasm host failed: <msg>` |
//!
//! 134 and 124 mirror what a native program shows for `abort()` (128 + SIGABRT) and for
//! `timeout(1)`; 135 (128 + SIGBUS) is unused by shells, so it cannot be confused with either.
//! A core module made into a component with wasmtime 48's preview1 adapter reports any non-zero
//! `proc_exit` as 1 (the adapter calls `exit(err)`); run the core module to keep the exact code.
//!
//! # What the guest sees
//! - `args` exactly (args[0] included), `env` exactly (never this process's environment, and
//!   no variable the caller did not give). `cwd` is a component's
//!   `wasi:cli/environment.initial-cwd`; a WASI 0.1 module has no cwd import, and wasi-libc
//!   starts it at `/` whatever the host does (it does not read `PWD`).
//! - the preopened directories, read-only ones with read-only dir and file permissions; nothing
//!   else of the host filesystem (`..` and absolute paths cannot escape a preopen).
//! - no sockets (no TCP, UDP or name lookup), coarsened wall and monotonic clocks, and
//!   stdio inherited from this process (fds 0, 1, 2) unless [`GuestStdio`] overrides it.
//!
//! # Limits
//! Linear memory per memory (`max_memory`; `memory.grow` past it returns -1 inside the guest),
//! table elements, instances, wasm stack, wall clock (a timer thread bumps the engine epoch) and an
//! optional fuel budget. Epoch interruption only stops wasm code: a guest blocked inside a host
//! call (a long `sleep` via `poll_oneoff`, a read of a pipe nobody writes, an open of a FIFO)
//! returns to wasm only when the call does. [`Prepared::run_as_process`], for a process that
//! exists to run one guest (the runtime's wasm host), makes the limit wall-clock in fact: a guest
//! still running [`TIMEOUT_GRACE`] after its deadline ends the process with code 124 and the same
//! reason line. [`Prepared::run`] (in-process callers) leaves that case to the caller.

mod background;
mod cache;
mod clock;
mod compile;
mod engine;
mod error;
mod sandbox;

use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

pub use background::{reap_finished_background_compiles, run_background_compile, BACKGROUND_COMPILE_ARG};
pub use cache::{CacheOutcome, ModuleCache};
pub use clock::{CoarseMonotonicClock, CoarseWallClock};
pub use engine::Allocator;
pub use error::WasmError;
pub use sandbox::{is_wasm, Loaded, Outcome, Prepared, Sandbox, EXIT_ERROR, EXIT_FUEL, EXIT_HOST, EXIT_TIMEOUT, EXIT_TRAP, TIMEOUT_GRACE};

/// Limits and knobs of the sandbox, from annotations and node defaults (the runtime fills it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Bytes of linear memory per memory (enforced by `StoreLimits`).
    pub max_memory: u64,
    /// Elements per table.
    pub max_table_elements: usize,
    /// Instances (core instances, including those inside a component) per store.
    pub max_instances: usize,
    /// Wall-clock limit, enforced by epoch interruption.
    pub timeout: Option<Duration>,
    /// Instruction budget (turns on fuel metering in the engine).
    pub fuel: Option<u64>,
    /// Every clock the guest reads is rounded down to this (and reports it as its resolution).
    pub clock_resolution: Duration,
    /// Bytes of host stack guest recursion may use.
    pub max_wasm_stack: usize,
    /// Bounds of compiling a module the cache does not hold. `None` compiles in the calling
    /// process without bounds (trusted modules, tests); the runtime always sets them.
    pub compile: Option<CompileLimits>,
    /// Which compiler makes the guest's machine code (see [`Compiler`]).
    pub compiler: Compiler,
}

/// Which of wasmtime's compilers makes a guest's machine code (node key `wasm.compiler`).
///
/// Cranelift optimises: its code runs fastest, and compiling it takes time that grows with the
/// module's code (seconds for megabytes). Winch, wasmtime's baseline compiler, translates each
/// function in one pass: compiling is several times faster, its code slower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compiler {
    /// Cranelift only: a module the cache does not hold is compiled optimised before it runs.
    #[default]
    Cranelift,
    /// Winch only.
    Winch,
    /// A module the cache holds optimised runs that code. Otherwise its first start compiles
    /// with Winch (cached too) and runs at once, and a detached, bounded, idle-priority process
    /// compiles it with Cranelift into the cache, so later starts run optimised code. Needs
    /// [`CompileLimits`] (the background compile is a bounded process); without them only the
    /// baseline tier runs until `precompile` fills the optimised one.
    Tiered,
}

/// Bounds of one compilation of an untrusted module: it runs in a forked child whose data
/// segment may grow by at most `memory` (RLIMIT_DATA), which is killed at `timeout` (and whose
/// CPU time is capped at `timeout` on every core), so a hostile module of many functions cannot
/// take the node's memory or cores. A module over a bound is refused with one error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileLimits {
    /// Largest module accepted, in bytes.
    pub max_module_bytes: u64,
    /// Memory the compilation may use beyond what the process holds when it starts.
    pub memory: u64,
    /// Wall-clock limit of the compilation.
    pub timeout: Duration,
    /// Threads the compiler may use (the container's CPU limit, rounded up); its CPU time is
    /// capped at `timeout` on each of them.
    pub threads: usize,
    /// The executable that runs a tiered sandbox's background compile: a binary that calls
    /// [`run_background_compile`] when its `argv[1]` is [`BACKGROUND_COMPILE_ARG`] (the
    /// runtime gives `/proc/self/exe`). `None`: no background compile.
    pub background_compiler: Option<PathBuf>,
}

impl Default for SandboxConfig {
    /// Defaults for untrusted code: 256 MiB per memory, 100 000 table elements, 100 instances,
    /// no timeout and no fuel (the runtime sets those from annotations), 1 ms clocks, 512 KiB of
    /// wasm stack, compilation in process (the runtime sets [`CompileLimits`]), Cranelift.
    fn default() -> Self {
        Self {
            max_memory: 256 << 20,
            max_table_elements: 100_000,
            max_instances: 100,
            timeout: None,
            fuel: None,
            clock_resolution: Duration::from_millis(1),
            max_wasm_stack: 512 << 10,
            compile: None,
            compiler: Compiler::default(),
        }
    }
}

/// A host directory the guest sees as `guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    /// Read-only directory and file permissions (no create, write, rename, unlink).
    pub read_only: bool,
}

/// What the guest sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guest {
    /// Path to the `.wasm` (core module or component).
    pub module: PathBuf,
    /// argv, args[0] included.
    pub args: Vec<String>,
    /// Exactly this environment.
    pub env: Vec<(String, String)>,
    pub preopens: Vec<Preopen>,
    /// Guest working directory (see the crate docs for how it reaches the guest).
    pub cwd: Option<String>,
}

/// Optional replacements for the guest's stdio; `None` inherits this process's fd 0/1/2.
#[derive(Debug, Default)]
pub struct GuestStdio {
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
}
