//! The module cache as a security boundary and a once-only compiler: concurrent first starts
//! compile once, and corrupted, foreign-owned, writable or symlinked artifacts and insecure
//! directories are never loaded. Tests run as root (chown cases are skipped otherwise).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{fixture, guest, is_root, only_artifact, run_captured};
use isola_wasm::{CacheOutcome, ModuleCache, Outcome, Sandbox, SandboxConfig, WasmError};

fn new_sandbox(cache_dir: &Path) -> Sandbox {
    Sandbox::new(
        &SandboxConfig::default(),
        ModuleCache::new(cache_dir.to_path_buf()).unwrap(),
    )
    .unwrap()
}

#[test]
fn second_prepare_is_a_cache_hit_and_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let hello = fixture("hello");
    assert_eq!(
        new_sandbox(&dir).precompile(&hello).unwrap(),
        CacheOutcome::Compiled
    );
    assert_eq!(
        new_sandbox(&dir).precompile(&hello).unwrap(),
        CacheOutcome::Hit
    );
    let sb = new_sandbox(&dir);
    let (prepared, out, _err) = common::prepare_captured(&sb, &guest(&hello, &[]));
    assert_eq!(prepared.cache_outcome(), CacheOutcome::Hit);
    assert_eq!(prepared.run(), Outcome::Exited(0));
    assert_eq!(
        std::fs::read_to_string(out.path()).unwrap(),
        "hello from wasm\n"
    );
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let art = std::fs::metadata(only_artifact(&dir)).unwrap();
    assert_eq!(art.permissions().mode() & 0o777, 0o600);
}

/// Not a test on its own: the child side of `twenty_concurrent_first_starts_compile_once`.
#[test]
fn helper_prepare_in_child_process() {
    let (Some(module), Some(dir)) = (
        std::env::var_os("ISOLA_WASM_HELPER_MODULE"),
        std::env::var_os("ISOLA_WASM_HELPER_CACHE"),
    ) else {
        return;
    };
    let sb = new_sandbox(Path::new(&dir));
    let prepared = sb.prepare(&guest(Path::new(&module), &[])).unwrap();
    println!("OUTCOME={:?}", prepared.cache_outcome());
}

#[test]
fn twenty_concurrent_first_starts_compile_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    ModuleCache::new(dir.clone()).unwrap();
    // A module nobody has compiled into this cache yet.
    let module = fixture("probe");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..20)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "helper_prepare_in_child_process",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("ISOLA_WASM_HELPER_MODULE", &module)
                .env("ISOLA_WASM_HELPER_CACHE", &dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut compiled = 0;
    let mut hits = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("OUTCOME=Compiled") {
            compiled += 1;
        } else if text.contains("OUTCOME=Hit") {
            hits += 1;
        } else {
            panic!("child printed no outcome: {text}");
        }
    }
    assert_eq!((compiled, hits), (1, 19));
    only_artifact(&dir);
}

#[test]
fn twenty_concurrent_threads_compile_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let module = fixture("hello");
    let outcomes: Vec<CacheOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| s.spawn(|| new_sandbox(&dir).precompile(&module).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let compiled = outcomes
        .iter()
        .filter(|o| **o == CacheOutcome::Compiled)
        .count();
    assert_eq!(compiled, 1, "{outcomes:?}");
}

/// Precompiles hello, tampers with the artifact via `tamper`, and checks the next prepare
/// recompiles (never loads it) and still runs correctly.
fn assert_tampered_artifact_is_recompiled(tamper: impl FnOnce(&Path)) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let hello = fixture("hello");
    assert_eq!(
        new_sandbox(&dir).precompile(&hello).unwrap(),
        CacheOutcome::Compiled
    );
    let artifact = only_artifact(&dir);
    tamper(&artifact);
    let sb = new_sandbox(&dir);
    let (prepared, out, _err) = common::prepare_captured(&sb, &guest(&hello, &[]));
    assert_eq!(prepared.cache_outcome(), CacheOutcome::Compiled);
    assert_eq!(prepared.run(), Outcome::Exited(0));
    assert_eq!(
        std::fs::read_to_string(out.path()).unwrap(),
        "hello from wasm\n"
    );
    // The replacement is a clean artifact: regular file, 0600, ours; the next start hits.
    let meta = std::fs::symlink_metadata(&artifact).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        new_sandbox(&dir).precompile(&hello).unwrap(),
        CacheOutcome::Hit
    );
}

#[test]
fn corrupted_artifact_is_never_loaded() {
    assert_tampered_artifact_is_recompiled(|a| {
        let mut bytes = std::fs::read(a).unwrap();
        // Keep wasmtime's header intact, destroy the rest.
        let len = bytes.len();
        for b in &mut bytes[64..len] {
            *b ^= 0xA5;
        }
        std::fs::write(a, bytes).unwrap();
    });
}

#[test]
fn truncated_artifact_is_never_loaded() {
    assert_tampered_artifact_is_recompiled(|a| {
        let bytes = std::fs::read(a).unwrap();
        std::fs::write(a, &bytes[..bytes.len() / 2]).unwrap();
    });
}

#[test]
fn world_writable_artifact_is_never_loaded() {
    assert_tampered_artifact_is_recompiled(|a| {
        std::fs::set_permissions(a, std::fs::Permissions::from_mode(0o666)).unwrap();
    });
}

#[test]
fn group_writable_artifact_is_never_loaded() {
    assert_tampered_artifact_is_recompiled(|a| {
        std::fs::set_permissions(a, std::fs::Permissions::from_mode(0o620)).unwrap();
    });
}

#[test]
fn artifact_owned_by_another_user_is_never_loaded() {
    if !is_root() {
        eprintln!("skipped: needs root to chown");
        return;
    }
    assert_tampered_artifact_is_recompiled(|a| {
        std::os::unix::fs::chown(a, Some(65534), Some(65534)).unwrap();
    });
}

#[test]
fn symlinked_artifact_is_never_followed() {
    assert_tampered_artifact_is_recompiled(|a| {
        // A perfectly valid artifact, but reached through a symlink.
        let elsewhere = a.with_file_name("valid-elsewhere");
        std::fs::rename(a, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, a).unwrap();
    });
}

#[test]
fn cache_dir_with_group_or_world_bits_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = ModuleCache::new(dir.clone()).unwrap_err();
    assert!(matches!(err, WasmError::CacheInsecure { .. }), "{err}");
    assert!(err.to_string().contains("mode 0755"), "{err}");

    // Made insecure after the sandbox was built: the next load refuses too.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let sb = new_sandbox(&dir);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = sb.precompile(&fixture("hello")).unwrap_err();
    assert!(matches!(err, WasmError::CacheInsecure { .. }), "{err}");
}

#[test]
fn cache_dir_owned_by_another_user_is_rejected() {
    if !is_root() {
        eprintln!("skipped: needs root to chown");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let err = ModuleCache::new(dir).unwrap_err();
    assert!(err.to_string().contains("owned by uid 65534"), "{err}");
}

#[test]
fn cache_dir_symlink_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    let link = tmp.path().join("cache");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let err = ModuleCache::new(link).unwrap_err();
    assert!(matches!(err, WasmError::CacheInsecure { .. }), "{err}");
}

#[test]
fn disabled_cache_compiles_every_time_and_writes_nothing() {
    let sb = Sandbox::new(&SandboxConfig::default(), ModuleCache::disabled()).unwrap();
    let (outcome, out, _) = run_captured(&sb, &guest(&fixture("hello"), &[]));
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(out, "hello from wasm\n");
    assert_eq!(
        sb.precompile(&fixture("hello")).unwrap(),
        CacheOutcome::Compiled
    );
}

#[test]
fn fuel_and_plain_engines_use_separate_artifacts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let plain = new_sandbox(&dir);
    let fuel_cfg = SandboxConfig {
        fuel: Some(1_000_000_000),
        ..SandboxConfig::default()
    };
    let fuel = Sandbox::new(&fuel_cfg, ModuleCache::new(dir.clone()).unwrap()).unwrap();
    assert_ne!(plain.fingerprint(), fuel.fingerprint());
    let hello = fixture("hello");
    assert_eq!(plain.precompile(&hello).unwrap(), CacheOutcome::Compiled);
    assert_eq!(fuel.precompile(&hello).unwrap(), CacheOutcome::Compiled);
    assert_eq!(plain.precompile(&hello).unwrap(), CacheOutcome::Hit);
}
