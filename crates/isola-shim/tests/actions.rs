//! The shim binary's own actions, as containerd runs them (the task API is driven through a
//! real containerd by isola-e2e's CRI suite): hostile or missing flags get one clear error,
//! and `delete` (containerd's cleanup after a lost shim) answers for a container it never saw.

use std::process::Command;

const SHIM: &str = env!("CARGO_BIN_EXE_containerd-shim-isola-v1");

#[test]
fn without_a_namespace_it_refuses_to_start() {
    let out = Command::new(SHIM).args(["-id", "x", "start"]).env("TTRPC_ADDRESS", "/nonexistent").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("namespace"), "{err}");
}

#[test]
fn delete_of_an_unknown_container_reports_it_killed_and_leaves_nothing() {
    let bundle = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    // containerd 1.6 passes the handler's options only as a file; the bundle keeps them.
    std::fs::write(bundle.path().join("isola-shim-options.json"), format!("{{\"Root\":\"{}\"}}", root.path().display())).unwrap();
    let out = Command::new(SHIM)
        .args(["-namespace", "isola-shim-test", "-id", "never-created", "-bundle"])
        .arg(bundle.path())
        .arg("delete")
        .current_dir(bundle.path())
        .env("TTRPC_ADDRESS", "/nonexistent")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A DeleteResponse: field 2 (exit_status, varint) = 137.
    assert!(out.stdout.windows(3).any(|w| w == [0x10, 0x89, 0x01]), "{:?}", out.stdout);
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0, "the state root stays empty");
}
