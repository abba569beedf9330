//! Integration: `isola-lab attack --targets native` on two real scenarios of the corpus proves the
//! positive control end to end (build, oracles, classification, JSON). Needs root and clang; it
//! skips (passes with a note) when either, or the payload files, are missing.

use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn native_control_escapes_on_fs01_and_sec01() {
    let attacks = repo().join("payloads/attacks");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !attacks.join("fs-01.toml").exists() || !attacks.join("sec-01.toml").exists() || Command::new("clang").arg("--version").output().is_err() {
        eprintln!("skipped: needs root, clang and payloads/attacks/{{fs-01,sec-01}}.toml");
        return;
    }
    let work = tempfile::tempdir_in("/var/tmp").unwrap();
    let json = work.path().join("out.json");
    let out = Command::new(env!("CARGO_BIN_EXE_isola-lab"))
        .args(["--work"])
        .arg(work.path())
        .args(["attack", "--targets", "native", "--only", "FS-01,SEC-01", "--json"])
        .arg(&json)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["targets"], serde_json::json!(["native"]));
    let scenarios = v["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 2);
    for s in scenarios {
        assert_eq!(s["control"], "ok", "{s}");
        let verdict = s["results"]["native"]["verdict"].as_str().unwrap();
        assert!(verdict == "escaped" || verdict == "leaked", "{s}");
        assert!(!s["results"]["native"]["evidence"].as_str().unwrap().is_empty());
    }
    // No canary or run dir is left behind.
    let leftovers = std::fs::read_dir(work.path().join("canary")).map(|d| d.flatten().count()).unwrap_or(0);
    assert_eq!(leftovers, 0);
}
