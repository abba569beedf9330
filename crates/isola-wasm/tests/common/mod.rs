//! Shared test helpers: build C fixtures with clang at test time (no binaries are committed),
//! run a guest with stdout captured to a file, and lay out scratch directories.
//! Helpers must never touch anything outside the test's own temporary directories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use isola_wasm::{Guest, GuestStdio, ModuleCache, Outcome, Prepared, Sandbox, SandboxConfig};

/// Builds `tests/fixtures/<name>.c` to wasm32-wasi (kept between runs); returns its path.
pub fn fixture(name: &str) -> PathBuf {
    // Built once into cargo's scratch directory for integration tests (target/tmp) and rebuilt
    // when the source is newer: nothing is left in /tmp by a test process, which has no teardown.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("isola-wasm-fixtures");
    std::fs::create_dir_all(&dir).expect("fixture directory");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.c"));
    let out = dir.join(format!("{name}.wasm"));
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&out) < modified(&src) {
        let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
        let status = Command::new("clang")
            .args(["--target=wasm32-wasi", "-O2"])
            .arg(&src)
            .arg("-o")
            .arg(&tmp)
            .status()
            .expect("clang (apt install clang lld wasi-libc libclang-rt-dev-wasm32)");
        assert!(status.success(), "clang failed for {}", src.display());
        std::fs::rename(&tmp, &out).expect("fixture into place");
    }
    out
}

/// A sandbox with `cfg` and a fresh cache directory (kept alive by the returned TempDir).
pub fn sandbox(cfg: &SandboxConfig) -> (Sandbox, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = ModuleCache::new(tmp.path().join("cache")).expect("cache");
    (Sandbox::new(cfg, cache).expect("sandbox"), tmp)
}

pub fn guest(module: &Path, args: &[&str]) -> Guest {
    let mut argv = vec!["probe".to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    Guest {
        module: module.to_path_buf(),
        args: argv,
        ..Guest::default()
    }
}

/// Prepares with stdout/stderr sent to files; returns (outcome, stdout, stderr).
pub fn run_captured(sandbox: &Sandbox, guest: &Guest) -> (Outcome, String, String) {
    let (prepared, out, err) = prepare_captured(sandbox, guest);
    let outcome = prepared.run();
    (
        outcome,
        std::fs::read_to_string(out.path()).unwrap_or_default(),
        std::fs::read_to_string(err.path()).unwrap_or_default(),
    )
}

pub fn prepare_captured(
    sandbox: &Sandbox,
    guest: &Guest,
) -> (Prepared, tempfile::NamedTempFile, tempfile::NamedTempFile) {
    let out = tempfile::NamedTempFile::new().expect("stdout file");
    let err = tempfile::NamedTempFile::new().expect("stderr file");
    let stdio = GuestStdio {
        stdin: None,
        stdout: Some(out.reopen().expect("reopen")),
        stderr: Some(err.reopen().expect("reopen")),
    };
    let prepared = sandbox
        .prepare_with_stdio(guest, stdio)
        .unwrap_or_else(|e| panic!("prepare failed: {e}"));
    (prepared, out, err)
}

/// The single `.cwasm` artifact in a cache directory.
pub fn only_artifact(cache_dir: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache_dir)
        .expect("read cache dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(found.len(), 1, "artifacts: {found:?}");
    found.remove(0)
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
