//! Shared fixtures of the integration tests: busybox bundles built from `busybox-static`,
//! C payloads compiled statically with clang, a private `--root` per test, and the
//! leftover checks (state, cgroups, mounts, processes) that every hostile case ends with.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A test's private world: a state root and a scratch directory, removed on drop.
pub struct World {
    pub root: PathBuf,
    pub scratch: PathBuf,
}

impl World {
    pub fn new(name: &str) -> Self {
        assert!(nix_is_root(), "integration tests need root (namespaces, cgroups)");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = std::env::temp_dir().join(format!("isola-it-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        let scratch = base.join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        World { root, scratch }
    }

    /// A unique container id for this test.
    pub fn id(&self, name: &str) -> String {
        format!("{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
    }

    /// `isola --root R ARGS...`
    pub fn isola(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_isola"));
        c.arg("--root").arg(&self.root);
        c
    }

    /// Runs isola to its exit. Stdout and stderr go to files, not pipes: a detached
    /// container inherits them, and a pipe would keep the caller waiting for the container.
    pub fn run(&self, args: &[&str]) -> Output {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let out_path = self.scratch.join(format!(".out-{n}"));
        let err_path = self.scratch.join(format!(".err-{n}"));
        let status = self
            .isola()
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .expect("isola runs");
        let out = Output { status, stdout: std::fs::read(&out_path).unwrap(), stderr: std::fs::read(&err_path).unwrap() };
        let _ = std::fs::remove_file(out_path);
        let _ = std::fs::remove_file(err_path);
        out
    }

    /// A busybox bundle whose process runs `args`; `edit` may change the config.
    pub fn bundle(&self, name: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> PathBuf {
        let dir = self.scratch.join(name);
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        for d in ["proc", "dev", "sys", "tmp"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(busybox(), rootfs.join("bin/busybox")).unwrap();
        for applet in ["sh", "true", "echo", "sleep", "cat", "ls", "grep", "kill", "id"] {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
        let mut config = default_config();
        config["process"]["args"] = args.iter().map(|a| Value::String(a.to_string())).collect();
        edit(&mut config);
        std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        dir
    }

    /// Asserts that nothing of container `id` survives: state, cgroup, mounts, processes.
    pub fn assert_no_leftovers(&self, id: &str) {
        let state = self.root.join(id);
        assert!(!state.exists(), "state dir {} is left", state.display());
        let cg = format!("/isola/{id}");
        for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let p = h.path().join(cg.trim_start_matches('/'));
            assert!(!p.exists(), "cgroup {} is left", p.display());
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(id), "a mount mentioning {id} is left");
        assert!(!mounts.contains(self.scratch.to_str().unwrap()), "a mount of the test's bundle is left");
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(text) = std::fs::read_to_string(p.path().join("cgroup")) {
                assert!(!text.contains(&cg), "process {:?} is left in {cg}", p.file_name());
            }
        }
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.run(&["state", id]);
        assert!(out.status.success(), "state {id}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Entries of the state root that are containers (the seccomp cache is not).
    pub fn containers(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect())
            .unwrap_or_default()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for id in self.containers() {
            let _ = self.run(&["delete", "--force", &id]);
        }
        let _ = std::fs::remove_dir_all(self.root.parent().unwrap());
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

fn busybox() -> &'static Path {
    let p = Path::new("/bin/busybox");
    assert!(p.exists(), "busybox-static is not installed (apt-get install busybox-static)");
    p
}

/// A runc-style default config: namespaces, masked paths, a few capabilities, no seccomp.
pub fn default_config() -> Value {
    serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "isola",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Compiles a C fixture to a static binary (cached per test process) and returns its path.
pub fn payload(name: &str) -> PathBuf {
    compile_fixture(name, "", &["-O2", "-static"], "apt-get install clang")
}

/// Compiles `tests/fixtures/NAME.c` with clang and `flags` into `NAME[.ext]`, once per process.
fn compile_fixture(name: &str, ext: &str, flags: &[&str], install_hint: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(format!("{name}.c"));
    let out_dir = std::env::temp_dir().join(format!("isola-it-payloads-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(format!("{name}{ext}"));
    if !out.exists() {
        let tmp = out.with_extension(format!("tmp{}", COUNTER.fetch_add(1, Ordering::SeqCst)));
        let status = Command::new("clang").args(flags).arg("-o").arg(&tmp).arg(&src).status().expect("clang is installed");
        assert!(status.success(), "compiling {} ({install_hint})", src.display());
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

/// Copies a compiled payload into a bundle's rootfs at /bin/NAME.
pub fn install_payload(bundle: &Path, name: &str) {
    std::fs::copy(payload(name), bundle.join("rootfs/bin").join(name)).unwrap();
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits (bounded) until `cond` holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Compiles a C fixture to a wasm32-wasi module (cached per test process).
pub fn wasm_payload(name: &str) -> PathBuf {
    compile_fixture(name, ".wasm", &["--target=wasm32-wasi", "-O2"], "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32")
}

impl World {
    /// A node policy whose module cache lives in this test's world; returns its path.
    pub fn wasm_policy(&self) -> PathBuf {
        let path = self.scratch.join("policy.toml");
        if !path.exists() {
            let cache = self.scratch.join("module-cache");
            std::fs::write(&path, format!("[wasm]\nmodule-cache = \"{}\"\n", cache.display())).unwrap();
        }
        path
    }

    /// A bundle whose rootfs holds `module` at /app/guest.wasm, annotated to run as wasm.
    pub fn wasm_bundle(&self, name: &str, module: &Path, args: &[&str], edit: impl FnOnce(&mut Value)) -> PathBuf {
        let mut argv = vec!["/app/guest.wasm"];
        argv.extend_from_slice(args);
        let dir = self.bundle(name, &argv, |c| {
            c["annotations"] = serde_json::json!({"module.wasm.image/variant": "compat"});
            edit(c)
        });
        std::fs::create_dir_all(dir.join("rootfs/app")).unwrap();
        std::fs::copy(module, dir.join("rootfs/app/guest.wasm")).unwrap();
        dir
    }

    /// `isola --config <wasm policy> ARGS...`
    pub fn run_wasm(&self, args: &[&str]) -> Output {
        let policy = self.wasm_policy();
        let mut full = vec!["--config", policy.to_str().unwrap()];
        full.extend_from_slice(args);
        self.run(&full)
    }
}
