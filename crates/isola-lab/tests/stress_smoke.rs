//! Integration: `isola-lab stress` at smoke size against isola-container and isola-wasm, through
//! the isola binary's command line (target/release/isola): every lifecycle completes, nothing
//! leaks, every race ends without a panic or a leftover, and the JSON carries the stress table.
//! Needs root, clang and a release build of isola (scripts/test.sh builds it first); without
//! them it fails and says what is missing, never passes unrun.

use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn isola_lifecycles_and_races_complete_without_leaks() {
    let isola = repo().join("target/release/isola");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(root, "stress needs root (namespaces, cgroups)");
    assert!(isola.exists(), "{} is missing: cargo build --release -p isola-cli", isola.display());
    assert!(Command::new("clang").arg("--version").output().is_ok(), "clang is missing: apt-get install clang");
    let work = tempfile::tempdir_in("/var/tmp").unwrap();
    let json = work.path().join("stress.json");
    let out = Command::new(env!("CARGO_BIN_EXE_isola-lab"))
        .arg("--isola")
        .arg(&isola)
        .arg("--work")
        .arg(work.path())
        .args(["stress", "--targets", "isola-container,isola-wasm", "--lifecycles", "24", "--parallel", "4", "--rounds", "2", "--races", "4", "--json"])
        .arg(&json)
        .current_dir(repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("## Stress") && stdout.contains("No leak."), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!((v["lifecycles"].as_u64(), v["parallel"].as_u64()), (Some(24), Some(4)));
    let rows = v["results"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["target"].as_str().unwrap()).collect();
    assert_eq!(names, ["isola-container", "isola-wasm"]);
    for r in rows {
        assert_eq!(r["failures"], 0, "{r}");
        assert_eq!(r["ok"], 24, "{r}");
        assert_eq!(r["leaks"], serde_json::json!([]), "{r}");
        assert!(r["lifecycles_per_s"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["p50_ms"].as_f64().unwrap() <= r["p95_ms"].as_f64().unwrap(), "{r}");
        assert!(!r["accounting"].as_array().unwrap().is_empty(), "{r}");
    }
    assert_eq!(rows[1]["build"], "wasm");
    let races = v["races"].as_array().unwrap();
    assert_eq!(races.len(), 6, "three races per target");
    for r in races {
        assert_eq!(r["failures"], 0, "{r}");
        assert_eq!(r["leaks"], serde_json::json!([]), "{r}");
    }
    let create = races.iter().find(|r| r["race"] == "create-create").unwrap();
    assert_eq!(create["outcomes"]["one winner"], 4, "{create}");
    // The run removed its own work (bundles, module cache).
    let left = std::fs::read_dir(work.path().join("runs")).map(|d| d.flatten().flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten()).count()).unwrap_or(0);
    assert_eq!(left, 0);
}
