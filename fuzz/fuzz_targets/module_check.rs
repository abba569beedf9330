//! Fuzzes what isola does with module bytes before code generation: the header check and
//! classification (core module or component), wasmtime validation under isola's engine
//! configuration, and the module cache's artifact check. Asserts that classification agrees with
//! validity, that an invalid binary is always refused (one line, naming the file), and that a
//! cached artifact that is not the one the node compiled is never loaded (always recompiled).
//!
//! Input: bytes starting with `\0asm` are a module; anything else is an artifact file planted in
//! the cache for a fixed module.

#![no_main]

use std::path::{Path, PathBuf};

use isola_fuzz::wasm::{engine, hex, TINY_COMMAND};
use isola_wasm::{is_wasm, CacheOutcome, ModuleCache, Sandbox, SandboxConfig, WasmError};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

struct World {
    engine: Engine,
    /// Cache disabled: checks without touching the disk.
    sandbox: Sandbox,
    /// A real cache directory for the artifact check.
    cached: Sandbox,
    artifact: PathBuf,
    genuine: Vec<u8>,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    thread_local! {
        static W: &'static World = Box::leak(Box::new(make_world()));
    }
    W.with(|w| *w)
}

fn make_world() -> World {
    {
        let cfg = SandboxConfig::default();
        let engine = engine(&cfg);
        let sandbox = Sandbox::new(&cfg, ModuleCache::disabled()).expect("sandbox");
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ModuleCache::new(dir.path().join("cache")).expect("cache");
        let cached = Sandbox::new(&cfg, cache).expect("sandbox");
        let label = Path::new("tiny.wasm");
        let first = cached.load_bytes(label, TINY_COMMAND.to_vec()).expect("the tiny command loads");
        assert_eq!(first.cache_outcome(), CacheOutcome::Compiled);
        // The artifact's name, as the cache makes it (checked: the compile just wrote it).
        let artifact = dir
            .path()
            .join("cache")
            .join(format!("{}-{}.cwasm", hex(&Sha256::digest(TINY_COMMAND)), cached.fingerprint()));
        let genuine = std::fs::read(&artifact).expect("the artifact is where the cache puts it");
        World { engine, sandbox, cached, artifact, genuine, _dir: dir }
    }
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    if data.starts_with(b"\0asm") {
        check_module(w, data);
    } else {
        check_artifact(w, data);
    }
});

fn check_module(w: &World, bytes: &[u8]) {
    assert!(is_wasm(bytes));
    let label = Path::new("/rootfs/app.wasm");
    let as_module = Module::validate(&w.engine, bytes).is_ok();
    if as_module {
        assert!(wasmparser::Parser::is_core_wasm(bytes), "a valid module that isola would classify otherwise");
    }
    // wasmtime 48 has no `Component::validate`: a component that is valid under every proposal
    // may be valid for isola's engine too, so it is left to code generation.
    let as_component = wasmparser::Parser::is_component(bytes)
        && wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all()).validate_all(bytes).is_ok();
    if bytes.len() < 8 {
        let err = w.sandbox.load_bytes(label, bytes.to_vec()).err().expect("a short header is refused");
        assert!(matches!(err, WasmError::Truncated { .. }), "{err}");
        return;
    }
    if as_module || as_component {
        // Valid: what follows is code generation (the module_run target).
        return;
    }
    match w.sandbox.load_bytes(label, bytes.to_vec()) {
        Ok(_) => panic!("a binary wasmtime refuses under isola's engine was loaded"),
        Err(e) => {
            let text = e.to_string();
            assert!(!text.contains('\n'), "a refusal is one line: {text}");
            assert!(text.contains("/rootfs/app.wasm"), "the error names the file: {text}");
        }
    }
}

fn check_artifact(w: &World, planted: &[u8]) {
    std::fs::write(&w.artifact, planted).expect("plant the artifact");
    let loaded = w.cached.load_bytes(Path::new("tiny.wasm"), TINY_COMMAND.to_vec()).expect("the tiny command loads");
    if loaded.cache_outcome() == CacheOutcome::Hit {
        assert_eq!(planted, &w.genuine[..], "a planted artifact that is not the node's own was loaded");
    }
    // The bad file was replaced: the next load is a hit on a good artifact.
    let again = w.cached.load_bytes(Path::new("tiny.wasm"), TINY_COMMAND.to_vec()).expect("loads");
    assert_eq!(again.cache_outcome(), CacheOutcome::Hit, "a rejected artifact was not replaced");
}
