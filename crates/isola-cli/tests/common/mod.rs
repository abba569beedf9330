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
        if systemd_driver() {
            c.arg("--systemd-cgroup");
        }
        // Marks every process this world starts (and libcontainer's clones of them), so the
        // leftover check finds an orphaned runtime process even outside any cgroup.
        c.env(WORLD_MARKER, self.base());
        c
    }

    /// The directory holding `root` and `scratch`.
    pub fn base(&self) -> &Path {
        self.root.parent().unwrap()
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

    /// Asserts that nothing of container `id` survives: state, cgroups, mounts, processes,
    /// module cache temp files. Kept for the older tests; same as [`World::assert_clean`].
    pub fn assert_no_leftovers(&self, id: &str) {
        self.assert_clean(id);
    }

    /// Asserts that nothing of container `id` (or of this world) survives:
    /// - the state dir `<root>/<id>` (and any `*.tmp` half-written file in the root),
    /// - a cgroup named after the id in EVERY hierarchy (each v1 controller, the named ones,
    ///   and the cgroup2 mount at /sys/fs/cgroup/unified), at the default path and anywhere a
    ///   spec's `cgroupsPath` may have put it (searched two levels deep),
    /// - a mount mentioning the id or this world's directories (/proc/self/mountinfo),
    /// - a process in such a cgroup, a live (non-zombie) process started by this world's
    ///   `isola` runs (marked through the environment), or one whose cwd or root lies in it,
    /// - a temp file of the module cache (`*.tmp`), when this world has one.
    pub fn assert_clean(&self, id: &str) {
        let problems = self.leftovers(id);
        assert!(problems.is_empty(), "leftovers of container {id:?}:\n  {}", problems.join("\n  "));
    }

    /// What [`World::assert_clean`] would complain about (empty when clean).
    pub fn leftovers(&self, id: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if !id.is_empty() && !id.contains('/') && id != "." && id != ".." {
            let state = self.root.join(id);
            if std::fs::symlink_metadata(&state).is_ok() {
                problems.push(format!("state dir {} is left", state.display()));
            }
        }
        for e in std::fs::read_dir(&self.root).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().ends_with(".tmp") {
                problems.push(format!("half-written file {} in the state root", e.path().display()));
            }
        }
        let cg_default = format!("/isola/{id}");
        let id_ok = !id.is_empty() && id.len() < 200 && !id.contains(['/', '\n']);
        if id_ok {
            for hierarchy in cgroup_hierarchies() {
                for dir in walk_dirs(&hierarchy, 3) {
                    let scope = format!("isola-{id}.scope");
                    if dir.file_name().is_some_and(|n| n == std::ffi::OsStr::new(id) || n == std::ffi::OsStr::new(&scope)) {
                        problems.push(format!("cgroup {} is left", dir.display()));
                    }
                }
            }
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for line in mounts.lines() {
            if (id_ok && line.split_whitespace().any(|f| f.split('/').any(|c| c == id)))
                || line.contains(self.base().to_str().unwrap())
            {
                problems.push(format!("mount left: {line}"));
            }
        }
        let marker = format!("{WORLD_MARKER}={}", self.base().display());
        let me = std::process::id().to_string();
        let others: Vec<String> = self.containers().into_iter().filter(|c| c != id).collect();
        for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = p.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
                continue;
            }
            let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
            let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
            if zombie {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(p.path().join("cgroup")) {
                if id_ok && text.lines().any(|l| l.ends_with(&cg_default) || l.ends_with(&format!("/{id}"))) {
                    problems.push(format!("process {name} is left in a cgroup of {id}"));
                    continue;
                }
            }
            // A marked process inside another live container of this world (a wasm host does
            // not exec, so it keeps the marker) belongs to that container.
            let cgroups = std::fs::read_to_string(p.path().join("cgroup")).unwrap_or_default();
            if others.iter().any(|o| cgroups.lines().any(|l| l.ends_with(&format!("/isola/{o}")))) {
                continue;
            }
            let environ = std::fs::read(p.path().join("environ")).unwrap_or_default();
            if environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
                let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                problems.push(format!("process {name} ({}) of this world is left", String::from_utf8_lossy(&cmd).replace('\0', " ")));
                continue;
            }
            for link in ["cwd", "root"] {
                if let Ok(target) = std::fs::read_link(p.path().join(link)) {
                    if target.starts_with(self.base()) {
                        problems.push(format!("process {name} has its {link} in {}", target.display()));
                    }
                }
            }
        }
        for dir in [self.scratch.join("module-cache")] {
            for e in walk_files(&dir) {
                let name = e.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if e.extension().is_some_and(|x| x == "tmp") && !written_by_live_background_compile(&name) {
                    problems.push(format!("module cache temp file {} is left", e.display()));
                }
            }
        }
        problems
    }

    /// Runs `args` and asserts a refusal: non-zero exit, exactly one line on stderr, and
    /// every one of `words` in it. Returns the line. `case` names the case in every failure.
    pub fn refused(&self, case: &str, args: &[&str], words: &[&str]) -> String {
        let out = self.run(args);
        assert_refusal(case, &out, words)
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
        // A background compile started by a test's container may store its artifact in the
        // world's module cache while the tree is being removed (it waits for the runtime to
        // exit first): try again for a moment rather than leave the directory behind.
        for _ in 0..40 {
            match std::fs::remove_dir_all(self.base()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => std::thread::sleep(std::time::Duration::from_millis(50)),
                _ => break,
            }
        }
    }
}

/// Environment variable naming the world of every `isola` a test starts.
pub const WORLD_MARKER: &str = "ISOLA_IT_WORLD";

/// The cgroup directory of container `id` with the default cgroups path, for `controller`'s
/// files: `/sys/fs/cgroup/CONTROLLER/isola/ID` on v1; on v2 (one hierarchy)
/// `/sys/fs/cgroup/isola/ID`, or `/sys/fs/cgroup/system.slice/isola-ID.scope` under the systemd
/// driver.
pub fn cgroup_dir(id: &str, controller: &str) -> PathBuf {
    let base = Path::new("/sys/fs/cgroup");
    match (cgroup_v2(), systemd_driver()) {
        (false, false) => base.join(controller).join("isola").join(id),
        (false, true) => base.join(controller).join("system.slice").join(format!("isola-{id}.scope")),
        (true, false) => base.join("isola").join(id),
        (true, true) => base.join("system.slice").join(format!("isola-{id}.scope")),
    }
}

/// Whether /sys/fs/cgroup is the unified (v2-only) hierarchy.
pub fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// `ISOLA_TEST_CGROUP_DRIVER=systemd` (set by the VM suites, scripts/vm/suites/*.sh) runs every
/// `isola` of the tests with `--systemd-cgroup`, so a spec without a cgroupsPath gets the scope
/// `system.slice/isola-ID.scope`; the leftover checks then also look for that scope.
pub fn systemd_driver() -> bool {
    std::env::var("ISOLA_TEST_CGROUP_DRIVER").is_ok_and(|v| v == "systemd")
}

/// Asserts that `out` is a refusal: non-zero exit, one stderr line holding every word
/// (case-insensitive). Returns the line.
pub fn assert_refusal(case: &str, out: &Output, words: &[&str]) -> String {
    let err = stderr_of(out);
    assert!(!out.status.success(), "case {case}: exit 0, it must be refused (stderr: {err:?}, stdout: {:?})", stdout_of(out));
    assert!(out.status.code().is_some(), "case {case}: isola died of a signal: {:?} (stderr: {err:?})", out.status);
    assert_ne!(out.status.code(), Some(101), "case {case}: isola panicked: {err}");
    assert_eq!(err.lines().count(), 1, "case {case}: exactly one error line expected, got: {err:?}");
    let lower = err.to_lowercase();
    for word in words {
        assert!(lower.contains(&word.to_lowercase()), "case {case}: {err:?} does not mention {word:?}");
    }
    err.trim_end().to_string()
}

/// Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers, named ones, unified).
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            let fstype = fields.get(sep + 1)?;
            (*fstype == "cgroup" || *fstype == "cgroup2").then(|| PathBuf::from(fields[4]))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Directories under `dir`, `depth` levels deep (not following symlinks).
fn walk_dirs(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if depth == 0 {
        return out;
    }
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(e.path());
            out.extend(walk_dirs(&e.path(), depth - 1));
        }
    }
    out
}

/// Files under `dir`, recursively (not following symlinks).
pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(walk_files(&e.path())),
            Ok(_) => out.push(e.path()),
            Err(_) => {}
        }
    }
    out
}

/// Names and contents (regular files) or link targets of everything under `dir`: a snapshot
/// to prove that a refused command wrote, renamed or removed nothing there.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walk_files(dir)
        .into_iter()
        .map(|p| {
            let meta = std::fs::symlink_metadata(&p).ok();
            let body = match meta {
                Some(m) if m.file_type().is_symlink() => std::fs::read_link(&p).map(|t| t.into_os_string().into_encoded_bytes()).unwrap_or_default(),
                Some(m) if m.file_type().is_file() => std::fs::read(&p).unwrap_or_default(),
                _ => Vec::new(),
            };
            (p, body)
        })
        .collect();
    out.extend(walk_dirs(dir, 16).into_iter().map(|d| (d, b"<dir>".to_vec())));
    out.sort();
    out
}

/// Runs a command with a deadline; kills it (SIGKILL) when the deadline passes.
/// Returns the output and whether it had to be killed.
pub fn run_with_deadline(mut cmd: Command, deadline: std::time::Duration, scratch: &Path) -> (Output, bool) {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let out_path = scratch.join(format!(".dl-out-{n}"));
    let err_path = scratch.join(format!(".dl-err-{n}"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("command runs");
    let start = std::time::Instant::now();
    let mut killed = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            killed = true;
            break child.wait().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let out = Output { status, stdout: std::fs::read(&out_path).unwrap_or_default(), stderr: std::fs::read(&err_path).unwrap_or_default() };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    (out, killed)
}

/// This test process's own scratch directory `$TMPDIR/<prefix><pid>` (built payloads, command
/// output). Test binaries have no teardown, so the first call for a prefix removes the
/// directories of processes that are gone.
pub fn process_dir(prefix: &str) -> PathBuf {
    static SWEPT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let tmp = std::env::temp_dir();
    let mut swept = SWEPT.lock().unwrap_or_else(|e| e.into_inner());
    if !swept.iter().any(|p| p == prefix) {
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else { continue };
            if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        swept.push(prefix.to_string());
    }
    let dir = tmp.join(format!("{prefix}{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds a wasm binary from WebAssembly text with `wat2wasm` (package wabt), cached per
/// process under `name`. `features` are wat2wasm flags such as `--enable-memory64`.
pub fn wat(name: &str, text: &str, features: &[&str]) -> PathBuf {
    let out_dir = process_dir("isola-it-payloads-");
    let out = out_dir.join(format!("{name}.wasm"));
    if !out.exists() {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let src = out_dir.join(format!("{name}.{n}.wat"));
        std::fs::write(&src, text).unwrap();
        let tmp = out_dir.join(format!("{name}.{n}.tmp"));
        let status = Command::new("wat2wasm").args(features).arg(&src).arg("-o").arg(&tmp).status()
            .expect("wat2wasm is installed (apt-get install wabt)");
        assert!(status.success(), "wat2wasm {name}");
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
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
    let out_dir = process_dir("isola-it-payloads-");
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

/// How much slower than this machine the tests run: `ISOLA_TEST_TIME_SCALE` (the VM suites run
/// under QEMU's TCG emulation and set it), 1 otherwise. Every wall-clock bound of a test is
/// multiplied by it; what a bound proves (a guest stopped long before its 30 s sleep ends, say)
/// must still hold at the scaled bound.
pub fn time_scale() -> u32 {
    std::env::var("ISOLA_TEST_TIME_SCALE").ok().and_then(|v| v.parse().ok()).filter(|n| *n >= 1).unwrap_or(1)
}

/// `ms` milliseconds of this machine's time, scaled by [`time_scale`].
pub fn bound_ms(ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(ms * u64::from(time_scale()))
}

/// Waits (bounded) until `cond` holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + bound_ms(10_000);
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

/// Appends `v` as unsigned LEB128 (the wasm binary format's integers), for hand-built modules.
pub fn leb128(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A module cache `<key>.<pid>.<n>.tmp` whose writer is a live background compile (a tiered
/// first start's optimised compile, which outlives the container by design) is a write in
/// flight, not a leftover.
fn written_by_live_background_compile(name: &str) -> bool {
    let Some(pid) = name.rsplit('.').nth(2) else { return false };
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"__isola-background-compile"))
}
