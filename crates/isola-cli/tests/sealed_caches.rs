//! The caches the runtime trusts (compiled seccomp filters, compiled modules) are sealed: a
//! corrupted entry is discarded, logged and rebuilt, never installed or loaded; and a failure in
//! a container's init after `start` reaches the caller as one error line, never lost.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// Every compiled filter in the state root's seccomp cache.
fn cached_filters(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join(".seccomp-cache"))
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "bpf")).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Flips a few bytes near the end of the file, keeping its length, owner and mode.
fn corrupt_in_place(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let n = bytes.len();
    for b in &mut bytes[n - 40..n - 32] {
        *b ^= 0xa5;
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_corrupted_seccomp_filter_is_rebuilt_and_the_linux_container_runs() {
    let w = World::new("seccomp-corrupt");
    let b = w.bundle("b", &["/bin/sh", "-c", "exit 7"], |_| {});
    let out = w.run(&["run", "--bundle", b.to_str().unwrap(), &w.id("c")]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    let filters = cached_filters(&w.root);
    assert!(!filters.is_empty(), "the built-in profile was compiled into the cache");
    let originals: Vec<Vec<u8>> = filters.iter().map(|f| std::fs::read(f).unwrap()).collect();
    for f in &filters {
        corrupt_in_place(f);
    }
    let log = w.scratch.join("log.json");
    let id = w.id("c");
    let out = w.run(&["--log", log.to_str().unwrap(), "--log-format", "json", "run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(7), "the container runs as before: {}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("does not match its sealed sha256"), "the discard is logged: {logged}");
    for (f, original) in filters.iter().zip(&originals) {
        assert_eq!(&std::fs::read(f).unwrap(), original, "{} was rebuilt", f.display());
    }
    w.assert_no_leftovers(&id);
}

#[test]
fn a_corrupted_wasm_host_filter_is_rebuilt_and_the_guest_runs() {
    let w = World::new("seccomp-corrupt-wasm");
    let b = w.wasm_bundle("b", &wasm_payload("wasm_probe"), &["hello"], |_| {});
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("w")]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let filters = cached_filters(&w.root);
    assert!(filters.len() >= 2, "the container's and the wasm host's filters are cached: {filters:?}");
    for f in &filters {
        corrupt_in_place(f);
    }
    let id = w.id("w");
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(stdout_of(&out).starts_with("hello"), "{}", stdout_of(&out));
    assert_eq!(stderr_of(&out), "", "no trap, no error");
    w.assert_no_leftovers(&id);
}

#[test]
fn a_failure_in_the_init_after_start_is_one_error_line_not_lost() {
    let w = World::new("init-error");
    // A program on a `noexec` bind mount: validation passes (a regular file with an execute
    // bit), and execve fails with EACCES in the init, after `start` has been sent.
    let host_dir = w.scratch.join("noexec");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy("/bin/busybox", host_dir.join("true")).unwrap();
    let b = w.bundle("b", &["/app/true"], |c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/app", "type": "bind", "source": host_dir.to_str().unwrap(), "options": ["rbind", "noexec"]
        }));
    });
    let id = w.id("e");
    let out = w.run(&["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "exactly one line: {err:?}");
    assert!(err.starts_with(&format!("isola: container {id}: start: ")), "{err}");
    assert!(err.to_lowercase().contains("permission denied"), "the cause is kept: {err}");
    w.assert_no_leftovers(&id);
}

#[test]
fn a_full_module_cache_filesystem_is_one_clear_error_and_leaves_no_partial_artifact() {
    let w = World::new("cache-full");
    let cache = w.scratch.join("small-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", cache.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a 64 KiB tmpfs as the module cache");
    let policy = w.scratch.join("full.toml");
    std::fs::write(&policy, format!("[wasm]\nmodule-cache = \"{}\"\n", cache.display())).unwrap();
    let b = w.wasm_bundle("b", &wasm_payload("wasm_probe"), &["hello"], |_| {});
    let id = w.id("full");
    let out = w.run(&["--config", policy.to_str().unwrap(), "run", "--bundle", b.to_str().unwrap(), &id]);
    let entries: Vec<String> =
        std::fs::read_dir(&cache).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    let _ = std::process::Command::new("umount").arg(&cache).status();
    assert_ne!(out.status.code(), Some(0));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.contains(&format!("container {id}")) && err.contains("No space left on device"), "{err}");
    assert!(!entries.iter().any(|n| n.ends_with(".cwasm") || n.ends_with(".tmp")), "no partial artifact: {entries:?}");
    w.assert_no_leftovers(&id);
}
