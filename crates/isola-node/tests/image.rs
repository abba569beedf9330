//! `isola image` archives: their layout, determinism, refusals, and (when containerd is installed
//! and we are root) that `ctr images import` accepts them with the right platform.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use isola_node::image::{build_image, ImageError, ImageRequest};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The smallest valid core module: magic and version.
const WASM: &[u8] = b"\0asm\x01\0\0\0";

/// A 64-bit x86-64 ELF executable header with no program headers (so: no interpreter).
fn static_elf() -> Vec<u8> {
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little-endian
    elf[6] = 1;
    elf[16] = 2; // ET_EXEC
    elf[18] = 0x3e; // x86-64
    elf[52] = 64;
    elf[54] = 56;
    elf
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Every regular file of an archive, by path.
fn entries(tar_path: &Path) -> HashMap<String, (u32, Vec<u8>)> {
    let mut a = tar::Archive::new(std::fs::File::open(tar_path).unwrap());
    let mut out = HashMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mode = e.header().mode().unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(path, (mode, data));
    }
    out
}

fn blob<'a>(files: &'a HashMap<String, (u32, Vec<u8>)>, digest: &str) -> &'a [u8] {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let data = &files[&format!("blobs/sha256/{hex}")].1;
    let actual: String = Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(actual, hex, "blob content matches its digest");
    data
}

#[test]
fn wasm_image_carries_platform_variant_and_entrypoint() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hello.wasm", WASM);
    let out = dir.path().join("hello.tar");
    let mut req = ImageRequest::new(&file, "example.com/team/hello:1.0", &out);
    req.args = vec!["--name".into(), "world".into()];
    let built = build_image(&req).unwrap();
    assert_eq!(built.platform.to_string(), "wasi/wasm");

    let files = entries(&out);
    let layout: Value = serde_json::from_slice(&files["oci-layout"].1).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: Value = serde_json::from_slice(&files["index.json"].1).unwrap();
    let m = &index["manifests"][0];
    assert_eq!(m["platform"]["os"], "wasi");
    assert_eq!(m["platform"]["architecture"], "wasm");
    assert_eq!(m["annotations"]["io.containerd.image.name"], "example.com/team/hello:1.0");
    assert_eq!(m["annotations"]["org.opencontainers.image.ref.name"], "1.0");
    assert_eq!(m["digest"], built.manifest_digest.as_str());

    let manifest: Value = serde_json::from_slice(blob(&files, m["digest"].as_str().unwrap())).unwrap();
    assert_eq!(manifest["annotations"]["module.wasm.image/variant"], "compat-smart");
    let config: Value = serde_json::from_slice(blob(&files, manifest["config"]["digest"].as_str().unwrap())).unwrap();
    assert_eq!(config["os"], "wasi");
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["config"]["Labels"]["module.wasm.image/variant"], "compat-smart");
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/hello.wasm", "--name", "world"]));

    let layer = blob(&files, manifest["layers"][0]["digest"].as_str().unwrap());
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(layer).read_to_end(&mut tar_bytes).unwrap();
    let diff_id: String = Sha256::digest(&tar_bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(config["rootfs"]["diff_ids"][0], format!("sha256:{diff_id}"));
    let mut layer_tar = tar::Archive::new(tar_bytes.as_slice());
    let mut e = layer_tar.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(e.path().unwrap().to_str().unwrap(), "hello.wasm");
    assert_eq!(e.header().mode().unwrap(), 0o755);
    assert_eq!((e.header().uid().unwrap(), e.header().gid().unwrap()), (0, 0));
    let mut content = Vec::new();
    e.read_to_end(&mut content).unwrap();
    assert_eq!(content, WASM);
}

#[test]
fn native_image_is_linux_amd64_without_wasm_marker() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hello", &static_elf());
    let out = dir.path().join("hello.tar");
    let built = build_image(&ImageRequest::new(&file, "hello", &out)).unwrap();
    assert_eq!(built.platform.to_string(), "linux/amd64");
    let files = entries(&out);
    let index: Value = serde_json::from_slice(&files["index.json"].1).unwrap();
    let m = &index["manifests"][0];
    assert_eq!(m["annotations"]["org.opencontainers.image.ref.name"], "latest");
    let manifest: Value = serde_json::from_slice(blob(&files, m["digest"].as_str().unwrap())).unwrap();
    assert!(manifest.get("annotations").is_none());
    let config: Value = serde_json::from_slice(blob(&files, manifest["config"]["digest"].as_str().unwrap())).unwrap();
    assert_eq!((config["os"].as_str(), config["architecture"].as_str()), (Some("linux"), Some("amd64")));
    assert!(config["config"].get("Labels").is_none());
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/hello"]));
}

#[test]
fn same_input_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "m.wasm", WASM);
    let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    let da = build_image(&ImageRequest::new(&file, "m:1", &a)).unwrap().manifest_digest;
    std::thread::sleep(Duration::from_millis(1100));
    let db = build_image(&ImageRequest::new(&file, "m:1", &b)).unwrap().manifest_digest;
    assert_eq!(da, db);
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}

#[test]
fn bad_inputs_are_refused_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "run.sh", b"#!/bin/sh\necho hi\n");
    let wasm = write(dir.path(), "ok.wasm", WASM);
    let mut dynamic = static_elf();
    dynamic[32] = 64; // program headers right after the ELF header
    dynamic[56] = 1;
    dynamic.extend_from_slice(&[3, 0, 0, 0]); // PT_INTERP
    dynamic.resize(64 + 56, 0);
    let dynamic = write(dir.path(), "dyn", &dynamic);
    let out = dir.path().join("out.tar");
    let cases: Vec<(ImageRequest, &str)> = vec![
        (ImageRequest::new(&script, "x:1", &out), "not a wasm module"),
        (ImageRequest::new(&dynamic, "x:1", &out), "dynamically linked"),
        (ImageRequest::new(dir.path().join("missing.wasm"), "x:1", &out), "missing.wasm"),
        (ImageRequest::new(&wasm, "Upper/Case:1", &out), "Upper/Case"),
        (ImageRequest::new(&wasm, "x@sha256:abc", &out), "digest"),
        (ImageRequest::new(&wasm, "x:1", dir.path().join("no/such/dir/out.tar")), "no/such/dir"),
        (ImageRequest::new(&wasm, "x:1", dir.path()), "output"),
        (ImageRequest::new(&wasm, "x:1", &wasm), "is the input file"),
    ];
    for (req, expect) in cases {
        let err: ImageError = build_image(&req).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(expect), "{msg:?} should mention {expect:?}");
        assert!(!msg.contains('\n'), "one line: {msg:?}");
    }
    let mut left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["dyn", "ok.wasm", "run.sh"], "no archive or temporary file left");
}

/// A containerd of our own (temporary root, state, sockets and opt dir); killed, unmounted and
/// removed on drop, whether the test passed or not.
struct ThrowawayContainerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl ThrowawayContainerd {
    fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("isola-node-ctd-").tempdir().unwrap();
        let d = dir.path().display();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\naddress = \"{d}/c.sock\"\n[ttrpc]\naddress = \"{d}/c.sock.ttrpc\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\npath = \"{d}/opt\"\n"
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let me = ThrowawayContainerd { child, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !me.socket().exists() {
            assert!(Instant::now() < deadline, "containerd did not start: {}", me.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        me
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn ctr(&self, args: &[&str]) -> String {
        let out = Command::new("ctr").arg("--address").arg(self.socket()).args(args).output().unwrap();
        assert!(out.status.success(), "ctr {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for ThrowawayContainerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Snapshotters may leave mounts below the root: detach them, deepest first.
        let root = self.dir.path().to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut below: Vec<&str> =
            mounts.lines().filter_map(|l| l.split_whitespace().nth(1)).filter(|m| m.starts_with(&root)).collect();
        below.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in below {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

/// `wasm.tar` (docker.io/isola-test/hello-wasm:1.0) and `native.tar` (.../hello-native:1.0) in `dir`.
fn both_images(dir: &Path) -> (PathBuf, PathBuf) {
    let wasm = write(dir, "hello.wasm", WASM);
    let native = write(dir, "hello", &static_elf());
    let (wasm_tar, native_tar) = (dir.join("wasm.tar"), dir.join("native.tar"));
    build_image(&ImageRequest::new(&wasm, "docker.io/isola-test/hello-wasm:1.0", &wasm_tar)).unwrap();
    build_image(&ImageRequest::new(&native, "docker.io/isola-test/hello-native:1.0", &native_tar)).unwrap();
    (wasm_tar, native_tar)
}

#[test]
fn ctr_imports_both_images_with_their_platforms() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !(root && on_path("containerd") && on_path("ctr")) {
        eprintln!("skipped: needs root and containerd + ctr on PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (wasm_tar, native_tar) = both_images(dir.path());

    let ctd = ThrowawayContainerd::start();
    for ns in ["default", "k8s.io"] {
        ctd.ctr(&["-n", ns, "images", "import", "--all-platforms", wasm_tar.to_str().unwrap()]);
        ctd.ctr(&["-n", ns, "images", "import", "--all-platforms", native_tar.to_str().unwrap()]);
        let listing = ctd.ctr(&["-n", ns, "images", "ls"]);
        let listed_with = |name: &str, platform: &str| {
            listing.lines().any(|l| l.starts_with(&format!("{name} ")) && l.split_whitespace().any(|t| t == platform))
        };
        assert!(listed_with("docker.io/isola-test/hello-wasm:1.0", "wasi/wasm"), "{ns}: {listing}");
        assert!(listed_with("docker.io/isola-test/hello-native:1.0", "linux/amd64"), "{ns}: {listing}");
    }
}

/// Global directories podman creates even with its own root: removed afterwards unless they
/// existed before (nothing else on a test machine uses podman).
struct PodmanLeftovers(Vec<&'static str>);

impl PodmanLeftovers {
    fn record() -> Self {
        PodmanLeftovers(
            ["/run/containers", "/var/lib/containers", "/run/libpod"].into_iter().filter(|d| !Path::new(d).exists()).collect(),
        )
    }
}

impl Drop for PodmanLeftovers {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[test]
fn podman_loads_both_images_with_their_names_and_platforms() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 || !on_path("podman") {
        eprintln!("skipped: needs root and podman on PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (wasm_tar, native_tar) = both_images(dir.path());

    let _leftovers = PodmanLeftovers::record();
    let d = dir.path();
    let podman = |args: &[&str]| {
        let out = Command::new("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", "vfs", "--events-backend", "none"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (tar, name, platform) in [
        (&wasm_tar, "docker.io/isola-test/hello-wasm:1.0", "wasi/wasm"),
        (&native_tar, "docker.io/isola-test/hello-native:1.0", "linux/amd64"),
    ] {
        let loaded = podman(&["load", "-i", tar.to_str().unwrap()]);
        assert!(loaded.contains(name), "{loaded}");
        let inspected = podman(&["image", "inspect", name, "--format", "{{.Os}}/{{.Architecture}}"]);
        assert_eq!(inspected.trim(), platform);
    }
}
