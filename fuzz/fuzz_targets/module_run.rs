//! Compiles, instantiates and runs wasm-smith modules (no imports, a `_start` export, small
//! sizes) through isola_wasm's public API with tight limits: fuel, 1 MiB of memory, no timeout.
//! Asserts that every such module that isola's engine validates loads and links, that the run ends
//! in a documented outcome with the matching exit code and a one-line reason, and that the fuel
//! budget, not time, stops it.

#![no_main]

use std::fs::File;
use std::path::Path;

use arbitrary::Unstructured;
use isola_wasm::{Guest, GuestStdio, ModuleCache, Outcome, Sandbox, SandboxConfig, EXIT_ERROR, EXIT_FUEL, EXIT_TRAP};
use libfuzzer_sys::fuzz_target;
use wasm_encoder::{ExportKind, ExportSection, Section};

const FUEL: u64 = 200_000;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(module) = wasm_smith::Module::new(smith_config(), &mut u) else { return };
    let Some(bytes) = with_start_export(module.to_bytes()) else { return };
    SANDBOX.with(|sandbox| run(sandbox, bytes));
});

fn config() -> SandboxConfig {
    SandboxConfig { max_memory: 1 << 20, fuel: Some(FUEL), timeout: None, ..SandboxConfig::default() }
}

thread_local! {
    static SANDBOX: Sandbox = Sandbox::new(&config(), ModuleCache::disabled()).expect("sandbox");
    /// isola's engine rebuilt (fuzz/src/wasm.rs), to validate without compiling.
    static ENGINE: wasmtime::Engine = isola_fuzz::wasm::engine(&config());
}

fn run(sandbox: &Sandbox, bytes: Vec<u8>) {
    // wasm-smith's switches do not map one to one onto wasmparser's features (it may emit a
    // non-final subtype, which needs GC): what isola's engine does not validate is out of scope.
    if ENGINE.with(|e| wasmtime::Module::validate(e, &bytes)).is_err() {
        return;
    }
    let label = Path::new("smith.wasm");
    let loaded = match sandbox.load_bytes(label, bytes.clone()) {
        Ok(l) => l,
        Err(e) => panic!("a module using only isola's features was refused: {e}"),
    };
    let guest = Guest { module: label.into(), args: vec!["smith.wasm".into()], ..Guest::default() };
    let null = || File::options().read(true).write(true).open("/dev/null").ok();
    let stdio = GuestStdio { stdin: null(), stdout: null(), stderr: null() };
    let prepared = sandbox.start(&loaded, &guest, stdio).expect("start");
    let outcome = prepared.run();
    match &outcome {
        Outcome::Exited(n) => assert_eq!(outcome.exit_code(), *n),
        Outcome::Trap(msg) => {
            assert_eq!(outcome.exit_code(), EXIT_TRAP);
            assert!(!msg.is_empty());
        }
        // An error that is not a trap (e.g. instantiation over the memory limit).
        Outcome::Error(msg) => {
            assert_eq!(outcome.exit_code(), EXIT_ERROR);
            assert!(!msg.is_empty());
        }
        Outcome::FuelExhausted { budget } => {
            assert_eq!(*budget, FUEL);
            assert_eq!(outcome.exit_code(), EXIT_FUEL);
        }
        Outcome::Timeout { .. } => panic!("a timeout without a wall-clock limit"),
        Outcome::HostFailed(msg) => panic!("the host failed although nothing confined it: {msg}"),
    }
    if let Some(line) = outcome.reason() {
        assert!(!line.contains('\n'), "the reason is one line: {line:?}");
    }
}

/// Small modules over the features isola's engine enables, with no imports and no exports
/// (`with_start_export` adds `_start`). wasm-smith's `available_imports`/`exports` need its
/// `wasmparser` feature, which would rebuild wasmtime for the fuzz build.
fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        max_imports: 0,
        max_exports: 0,
        min_funcs: 1,
        max_memories: 1,
        max_memory32_bytes: 1 << 20,
        memory64_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        relaxed_simd_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        custom_descriptors_enabled: false,
        max_funcs: 8,
        max_instructions: 100,
        max_data_segments: 4,
        max_element_segments: 4,
        max_elements: 32,
        max_globals: 8,
        max_table_elements: 1000,
        max_tables: 2,
        max_types: 16,
        ..wasm_smith::Config::default()
    }
}

/// Exports the first function of type `() -> ()` as `_start`, splicing an export section into
/// its place in the section order; `None` when the module has no such function.
fn with_start_export(bytes: Vec<u8>) -> Option<Vec<u8>> {
    use wasmparser::{Parser, Payload};
    let mut types = Vec::new();
    let mut start = None;
    for payload in Parser::new(0).parse_all(&bytes) {
        match payload.ok()? {
            Payload::TypeSection(r) => {
                for ty in r.into_iter_err_on_gc_types() {
                    let ty = ty.ok()?;
                    types.push(ty.params().is_empty() && ty.results().is_empty());
                }
            }
            Payload::FunctionSection(r) => {
                for (index, ty) in r.into_iter().enumerate() {
                    if start.is_none() && types.get(ty.ok()? as usize) == Some(&true) {
                        start = Some(index as u32);
                    }
                }
            }
            _ => {}
        }
    }
    let mut exports = ExportSection::new();
    exports.export("_start", ExportKind::Func, start?);
    let mut section = Vec::new();
    exports.append_to(&mut section);
    // Sections after exports: start 8, element 9, data count 12, code 10, data 11.
    let mut at = 8;
    while at < bytes.len() {
        let id = bytes[at];
        if matches!(id, 8 | 9 | 10 | 11 | 12) {
            break;
        }
        let (size, len) = leb_u32(&bytes[at + 1..])?;
        at += 1 + len + size as usize;
    }
    let mut out = bytes[..at.min(bytes.len())].to_vec();
    out.extend_from_slice(&section);
    out.extend_from_slice(&bytes[at.min(bytes.len())..]);
    Some(out)
}

fn leb_u32(b: &[u8]) -> Option<(u32, usize)> {
    let mut v = 0u32;
    for (i, byte) in b.iter().enumerate().take(5) {
        v |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}
