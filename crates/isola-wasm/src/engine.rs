//! The single place where the wasmtime `Engine` is configured: every knob isola sets, its
//! wasmtime default, and why. Nothing here may enable a proposal or host capability "just in
//! case": each enabled feature is attack surface, and each knob changes the cache fingerprint.

use std::time::{Duration, Instant};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, RegallocAlgorithm, Strategy, WasmFeatures};

use crate::error::{one_line, WasmError};
use crate::SandboxConfig;

/// How linear memories, tables and instances are allocated.
///
/// Measured for isola's case (one process per container running exactly one guest; 42 KB C hello,
/// release build, warm cache, 2-core VM, `examples/run.rs` under `hyperfine -N`): whole process
/// 3.0 ms ± 0.4 on-demand vs 3.0 ms ± 0.2 pooling; in-process prepare+run 114 us vs 124 us
/// (medians of 500). Pooling pays off by reusing warm slots across many instantiations, which a
/// one-shot process never does, and its fixed pool sizes could refuse a legitimate guest, so
/// [`Allocator::OnDemand`] is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Allocator {
    /// `mmap` each memory/table when the instance is created (wasmtime's default).
    #[default]
    OnDemand,
    /// A pool sized for one guest (one component of a handful of core instances).
    Pooling,
}

/// Wasm proposals isola turns off even though wasmtime 48 would accept them.
///
/// Threads and shared memory: a guest could spawn work the epoch/fuel accounting of one store
/// does not see. Memory64: bigger address arithmetic and guard assumptions, no WASI guest needs it.
/// GC, function references, exceptions, stack switching: large new runtime surface (a GC heap,
/// unwinding, continuations) that C/Rust WASI commands do not use. Custom page sizes, wide
/// arithmetic: not needed. Relaxed SIMD: results differ per host CPU, which lets a guest
/// fingerprint the node. Component-model async/threading/GC/error-context: preview3 surface that
/// `wasi:cli/command` (preview2) does not use.
fn disabled_features() -> WasmFeatures {
    WasmFeatures::THREADS
        | WasmFeatures::SHARED_EVERYTHING_THREADS
        | WasmFeatures::MEMORY64
        | WasmFeatures::GC
        | WasmFeatures::FUNCTION_REFERENCES
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::LEGACY_EXCEPTIONS
        | WasmFeatures::STACK_SWITCHING
        | WasmFeatures::CUSTOM_PAGE_SIZES
        | WasmFeatures::WIDE_ARITHMETIC
        | WasmFeatures::RELAXED_SIMD
        | WasmFeatures::CM_ASYNC
        | WasmFeatures::CM_MORE_ASYNC_BUILTINS
        | WasmFeatures::CM_ASYNC_STACKFUL
        | WasmFeatures::CM_THREADING
        | WasmFeatures::CM_ERROR_CONTEXT
        | WasmFeatures::CM_GC
}

/// The code generator of one engine. A `Compiler::Tiered` sandbox has one engine of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Cranelift,
    Winch,
}

/// Builds the engine configuration for `cfg`. Every setter documents wasmtime's default and the
/// security consequence of isola's choice.
pub(crate) fn engine_config(cfg: &SandboxConfig, allocator: Allocator, backend: Backend) -> Config {
    let mut c = Config::new();

    // strategy — default Cranelift. Winch (wasmtime's single-pass baseline compiler) for the
    // baseline tier: it supports the same proposals isola enables, fuel and epochs, on x86_64
    // and aarch64; its code is slower, its compile several times faster.
    c.strategy(match backend {
        Backend::Cranelift => Strategy::Cranelift,
        Backend::Winch => Strategy::Winch,
    });

    // cranelift_opt_level (default speed) and cranelift_regalloc_algorithm (default
    // backtracking), baseline tier only: Winch compiles the function bodies, but wasmtime
    // compiles the trampolines between host and guest with Cranelift, one for each function
    // that escapes (exported or in a table: thousands in an interpreter, whose builtins are
    // called through function pointers). They took about a third of a Winch compile of
    // QuickJS-ng. A baseline tier compiles them without optimisation and with the single-pass
    // register allocator; both are part of the Winch engine's fingerprint.
    if backend == Backend::Winch {
        c.cranelift_opt_level(OptLevel::None);
        c.cranelift_regalloc_algorithm(RegallocAlgorithm::SinglePass);
    }

    // epoch_interruption — default false. ON only when a wall-clock timeout is configured:
    // compiled code then checks an epoch counter at every function entry and loop back-edge, so
    // a timer thread can stop an infinite loop. The check costs up to ~2x on call-heavy code
    // (measured: the lab's recursive regex kernel), so guests without a timeout run without it;
    // they are still bounded by the container (cgroup CPU quota, `kill`). Like fuel, it changes
    // the generated code and so the engine fingerprint.
    c.epoch_interruption(cfg.timeout.is_some());

    // consume_fuel — default false. ON only when a budget is configured: every instruction is
    // metered (~10-30% slower), which gives a deterministic instruction limit. Because it changes
    // the generated code it is part of the engine fingerprint (separate cache artifacts).
    c.consume_fuel(cfg.fuel.is_some());

    // max_wasm_stack — default 512 KiB. Bounds how much of the host thread's stack guest
    // recursion may use; overflow becomes a `call stack exhausted` trap instead of a host crash.
    // The host thread must have more stack than this (the runtime runs the guest on the main
    // thread, whose stack is 8 MiB by default).
    c.max_wasm_stack(cfg.max_wasm_stack);

    // Proposals: keep the stable set (SIMD, bulk memory, reference types, multi-value, tail
    // calls, multi-memory, extended-const) and the component model (needed for preview2
    // commands); switch off the rest, see `disabled_features`.
    c.wasm_features(disabled_features(), false);
    c.wasm_component_model(true);

    // concurrency_support — default true (with the component-model-async cargo feature). OFF:
    // no async component machinery is initialised in the Store; preview2 commands run on the
    // synchronous bindings.
    c.concurrency_support(false);

    // cranelift_nan_canonicalization — default false. Left OFF: canonical NaNs would hide the
    // host's NaN bit patterns (a weak fingerprint) at a measurable cost on float code.
    c.cranelift_nan_canonicalization(false);

    // memory_init_cow — default true. ON (explicitly): linear memory is initialised by mapping
    // the module's data segments copy-on-write from the (cached) artifact, so instantiation does
    // not copy the heap image, and pages the guest never writes stay shared and untouched.
    c.memory_init_cow(true);

    // parallel_compilation — default true. ON: a cold compile (cache miss) uses all cores. The
    // container's cgroup still bounds total CPU.
    c.parallel_compilation(true);

    // signals_based_traps — default true. ON: out-of-bounds accesses hit guard pages and become
    // traps via SIGSEGV handling; disabling would add explicit bounds checks everywhere.
    c.signals_based_traps(true);

    // allocation_strategy — default on-demand. See `Allocator` for the measurement.
    match allocator {
        Allocator::OnDemand => {
            c.allocation_strategy(InstanceAllocationStrategy::OnDemand);
        }
        Allocator::Pooling => {
            c.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_for_one_guest(
                cfg,
            )));
        }
    }
    c
}

/// A pool for ONE guest per process: a component made from a preview1 module with the WASI
/// adapter has a handful of core instances, two memories and a few tables; wasmtime's defaults
/// (1000 instances, 10 000 memories) would reserve address space for a multi-tenant server.
fn pooling_for_one_guest(cfg: &SandboxConfig) -> PoolingAllocationConfig {
    let mut p = PoolingAllocationConfig::new();
    let instances = cfg.max_instances.clamp(1, 32) as u32;
    p.total_component_instances(2);
    p.total_core_instances(instances);
    p.total_memories(8);
    p.total_tables(8);
    p.total_stacks(1);
    p.max_memories_per_module(8);
    p.max_tables_per_module(8);
    p.max_core_instances_per_component(instances);
    p.table_elements(cfg.max_table_elements);
    // Round the byte limit up to whole 64 KiB pages; StoreLimits enforces the exact value.
    let max = usize::try_from(cfg.max_memory).unwrap_or(usize::MAX);
    p.max_memory_size(max.checked_next_multiple_of(65536).unwrap_or(max));
    p
}

/// Creates an engine for `cfg` with `backend`'s code generator.
pub(crate) fn build_engine(cfg: &SandboxConfig, allocator: Allocator, backend: Backend) -> Result<Engine, WasmError> {
    let started = Instant::now();
    let engine = Engine::new(&engine_config(cfg, allocator, backend)).map_err(|e| WasmError::Engine {
        cause: one_line(&e),
    })?;
    tracing::debug!(
        ?allocator,
        ?backend,
        elapsed_us = started.elapsed().as_micros() as u64,
        "wasm engine built"
    );
    Ok(engine)
}

/// Fingerprint of everything that makes a compiled artifact valid for this engine: the wasmtime
/// version and wasmtime's own compatibility hash (target, tunables, enabled features, fuel,
/// epochs) and the code generator. Hex, 16 bytes of sha256.
pub(crate) fn fingerprint(engine: &Engine, backend: Backend) -> String {
    use sha2::{Digest, Sha256};
    use std::hash::Hash;

    /// Feeds `Hash` input straight into sha256 so the result is stable across Rust releases
    /// (std's `DefaultHasher` makes no such promise).
    struct ShaHasher(Sha256);
    impl std::hash::Hasher for ShaHasher {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }

    let mut h = ShaHasher(Sha256::new());
    h.0.update(b"isola-wasm artifact v1\0wasmtime 48.0.8\0");
    // Cranelift's keys are those of the releases before tiering (caches stay warm on upgrade).
    if backend == Backend::Winch {
        h.0.update(b"winch\0");
    }
    engine.precompile_compatibility_hash().hash(&mut h);
    let digest = h.0.finalize();
    hex(&digest[..16])
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What the timer does when the guest is still running `grace` after the epoch was bumped,
/// i.e. it is blocked inside a host call (sleep, a read of a pipe, an open of a FIFO), where
/// epoch interruption cannot reach it.
#[derive(Debug, Clone)]
pub(crate) enum Overrun {
    /// Nothing: the guest stops when it next returns to wasm (a library caller's choice).
    Wait,
    /// The process exists only to run this guest: print `line` on stderr and `_exit(code)`.
    ExitProcess { grace: Duration, code: i32, line: String },
}

/// Spawns the timer that bumps the engine's epoch once `timeout` has passed, unless the returned
/// guard is dropped first (the guest finished), and then applies `overrun`. The thread never
/// outlives the guard by more than one wake-up.
pub(crate) fn start_watchdog(engine: &Engine, timeout: Duration, overrun: Overrun) -> std::io::Result<Watchdog> {
    use std::sync::mpsc::RecvTimeoutError;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let engine = engine.clone();
    let handle = std::thread::Builder::new()
        .name("isola-wasm-epoch".into())
        .spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(timeout) {
                engine.increment_epoch();
                if let Overrun::ExitProcess { grace, code, line } = overrun {
                    if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(grace) {
                        exit_process(code, &line);
                    }
                }
            }
        })?;
    Ok(Watchdog {
        stop: Some(tx),
        handle: Some(handle),
    })
}

/// Ends the whole process from the timer thread while the guest thread is blocked in the host:
/// raw `write` and `_exit`, because the blocked thread may hold any lock (stdout's included).
fn exit_process(code: i32, line: &str) -> ! {
    let text = format!("{line}\n");
    // SAFETY: write(2) of a buffer we own, then _exit; both async-signal-safe, no locks taken.
    unsafe {
        libc::write(2, text.as_ptr().cast(), text.len());
        libc::_exit(code)
    }
}

/// Stops the epoch timer when dropped.
pub(crate) struct Watchdog {
    stop: Option<std::sync::mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
