//! One suite run: a temporary root, the payload images, a private containerd with the `isola`
//! (via `isola install`) and `runc` handlers, a CRI client, and a teardown that leaves nothing
//! behind. `Harness` tears down on drop too, so a failing or panicking test still cleans up.

use crate::containerd::{Containerd, Layout};
use crate::cri::Cri;
use crate::payloads::{self, Build, Payload};
use crate::{images, teardown};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// The RuntimeClass handlers `setup` installs: isola through containerd's runc shim, and
/// through isola's own shim (`containerd-shim-isola-v1`).
pub const ISOLA_HANDLER: &str = "isola";
pub const SHIM_HANDLER: &str = "isola-shim";
/// Both, for suites that run every case through each.
pub const ISOLA_HANDLERS: [&str; 2] = [ISOLA_HANDLER, SHIM_HANDLER];

/// The CRI namespace of containerd.
pub const K8S_NAMESPACE: &str = "k8s.io";

pub const PAUSE_IMAGE: &str = "isola-e2e.local/pause:1";
pub const HELLO_WASM: &str = "isola-e2e.local/hello-wasm:1";
pub const HELLO_NATIVE: &str = "isola-e2e.local/hello-native:1";
pub const SLEEPER_WASM: &str = "isola-e2e.local/sleeper-wasm:1";
pub const SLEEPER_NATIVE: &str = "isola-e2e.local/sleeper-native:1";
pub const MEMHOG_WASM: &str = "isola-e2e.local/memhog-wasm:1";

/// Every image of the suite: (reference, payload, build).
pub const IMAGES: &[(&str, Payload, Build)] = &[
    (PAUSE_IMAGE, payloads::PAUSE, Build::Native),
    (HELLO_WASM, payloads::HELLO, Build::Wasm),
    (HELLO_NATIVE, payloads::HELLO, Build::Native),
    (SLEEPER_WASM, payloads::SLEEPER, Build::Wasm),
    (SLEEPER_NATIVE, payloads::SLEEPER, Build::Native),
    (MEMHOG_WASM, payloads::MEMHOG, Build::Wasm),
];

/// The isola binary the suite drives: `$ISOLA_BIN`, else `<workspace>/target/release/isola`.
pub fn isola_binary() -> Result<PathBuf> {
    let path = match std::env::var_os("ISOLA_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/isola"),
    };
    if !path.is_file() {
        bail!(
            "isola binary not found at {}: build it first (`cargo build --release -p isola-cli`, \
             or scripts/setup.sh), or point ISOLA_BIN at it",
            path.display()
        );
    }
    let shim = path.with_file_name("containerd-shim-isola-v1");
    if !shim.is_file() {
        bail!(
            "isola's shim not found at {} (beside isola): build it (`cargo build --release -p isola-shim`)",
            shim.display()
        );
    }
    path.canonicalize()
        .with_context(|| format!("resolving {}", path.display()))
}

pub fn runc_binary() -> Result<PathBuf> {
    for p in [
        "/usr/sbin/runc",
        "/usr/bin/runc",
        "/usr/local/sbin/runc",
        "/usr/local/bin/runc",
    ] {
        if Path::new(p).is_file() {
            return Ok(PathBuf::from(p));
        }
    }
    bail!("runc not found (install the Debian package runc: scripts/setup.sh)")
}

pub struct Harness {
    pub layout: Layout,
    pub isola: PathBuf,
    pub rt: tokio::runtime::Runtime,
    pub cri: Option<Cri>,
    containerd: Mutex<Option<Containerd>>,
    /// (containerd namespace, shim grouping id) of everything started, to find shim sockets.
    shim_ids: Mutex<Vec<(String, String)>>,
    torn_down: bool,
}

impl Harness {
    /// Builds images, configures and starts containerd, installs the isola handler, imports the
    /// images and connects the CRI client. On error, what was made is torn down.
    pub fn start(isola: &Path) -> Result<Self> {
        if unsafe { libc::geteuid() } != 0 {
            bail!("the e2e suite runs containerd and needs root");
        }
        // Orphaned shims are re-parented to us (not to a PID 1 that may not reap) and reaped in teardown.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        sweep_stale_runs();
        let root = tempfile::Builder::new()
            .prefix(RUN_PREFIX)
            .tempdir_in(RUN_PARENT)?
            .keep();
        std::fs::write(root.join(OWNER_FILE), std::process::id().to_string())?;
        let layout = Layout::new(&root, std::process::id());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let mut h = Self {
            layout,
            isola: isola.to_path_buf(),
            rt,
            cri: None,
            containerd: Mutex::new(None),
            shim_ids: Mutex::new(Vec::new()),
            torn_down: false,
        };
        h.setup()?;
        Ok(h)
    }

    fn setup(&mut self) -> Result<()> {
        let build_dir = self.layout.root.join("build");
        std::fs::create_dir_all(&build_dir)?;
        let mut tars = Vec::new();
        for (reference, payload, build) in IMAGES {
            let file =
                payloads::compile(*payload, *build, &build_dir.join(reference_dir(reference)))?;
            let tar = build_dir.join(format!("{}.tar", reference_dir(reference)));
            images::build(&self.isola, &file, reference, &tar)?;
            tars.push(tar);
        }
        self.layout.write(PAUSE_IMAGE, &runc_binary()?)?;
        self.install_isola_handler()?;
        // isola's shim is found beside isola (see `isola_binary`).
        let isola_dir = self.isola.parent().unwrap_or(Path::new("/")).to_path_buf();
        *self.containerd.lock().unwrap() = Some(Containerd::start(&self.layout, &[&isola_dir])?);
        for tar in &tars {
            images::import(&self.layout, K8S_NAMESPACE, tar)?;
        }
        let socket = self.layout.socket.clone();
        let cri = self.rt.block_on(async {
            let cri = Cri::connect(&socket).await?;
            cri.version().await?;
            anyhow::Ok(cri)
        })?;
        self.cri = Some(cri);
        Ok(())
    }

    /// `isola install --containerd-config CONFIG --binary ISOLA --runtime-root ROOT`, and the
    /// same with `--shim --handler isola-shim` (isola's own shim, found beside `isola`). Both
    /// handlers share the state root, so a test finds a container's state the same way.
    fn install_isola_handler(&self) -> Result<()> {
        for (handler, shim) in [(ISOLA_HANDLER, false), (SHIM_HANDLER, true)] {
            let mut cmd = Command::new(&self.isola);
            cmd.arg("install")
                .arg("--containerd-config")
                .arg(&self.layout.config)
                .args(["--handler", handler])
                .arg("--runtime-root")
                .arg(&self.layout.isola_root);
            if shim {
                cmd.arg("--shim");
            } else {
                cmd.arg("--binary").arg(&self.isola);
            }
            let out = cmd.output()?;
            if !out.status.success() {
                bail!(
                    "`isola install` of handler {handler} failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            let config = std::fs::read_to_string(&self.layout.config)?;
            if !config.contains(&format!("runtimes.{handler}]")) {
                bail!(
                    "`isola install` succeeded but {} has no {handler} runtime table",
                    self.layout.config.display()
                );
            }
            if shim {
                self.point_shim_at_its_options(&config, handler)?;
            }
        }
        Ok(())
    }

    /// The options file of isola's shim for `handler` (the suite's state root).
    pub fn shim_options_file(&self, handler: &str) -> PathBuf {
        self.layout.root.join(format!("{handler}-options.toml"))
    }

    /// containerd 1.6 hands a shim other than runc's none of its handler's options table, only
    /// a `ConfigPath` (1.7 and later pass the table itself): the suite's non-default state root
    /// reaches isola's shim through a file named there. The file is written for every version
    /// (`ctr run --runtime-config-path` takes it); only a version 2 config names it.
    fn point_shim_at_its_options(&self, config: &str, handler: &str) -> Result<()> {
        let header = format!("[plugins.{}.containerd.runtimes.{handler}.options]\n", self.layout.cri_runtime_plugin());
        let file = self.shim_options_file(handler);
        std::fs::write(
            &file,
            format!("Root = \"{}\"\nSystemdCgroup = {}\n", self.layout.isola_root.display(), self.layout.systemd),
        )?;
        if self.layout.config_version >= 3 {
            return Ok(());
        }
        let Some(at) = config.find(&header) else {
            bail!("{} has no {header:?} table", self.layout.config.display())
        };
        let at = at + header.len();
        let edited = format!("{}ConfigPath = \"{}\"\n{}", &config[..at], file.display(), &config[at..]);
        std::fs::write(&self.layout.config, edited)?;
        Ok(())
    }

    /// The image-layout tar `setup` built for `reference` (to import it elsewhere, e.g. for `ctr run`).
    pub fn image_tar(&self, reference: &str) -> PathBuf {
        self.layout
            .root
            .join("build")
            .join(format!("{}.tar", reference_dir(reference)))
    }

    /// isola's state folder for a CRI container or sandbox: the runc shim passes
    /// `--root <options.Root>/<namespace>` and isola keeps one folder per id below it.
    pub fn isola_state_dir(&self, id: &str) -> PathBuf {
        self.layout.isola_root.join(K8S_NAMESPACE).join(id)
    }

    pub fn cri(&self) -> &Cri {
        self.cri
            .as_ref()
            .expect("CRI client connected by Harness::start")
    }

    /// Records a shim grouping id (pod sandbox id, or `ctr run` container id) for the leftover check.
    pub fn track(&self, namespace: &str, id: &str) {
        self.shim_ids
            .lock()
            .unwrap()
            .push((namespace.to_owned(), id.to_owned()));
    }

    pub fn containerd_pid(&self) -> Option<u32> {
        self.containerd.lock().unwrap().as_ref().and_then(|c| c.pid())
    }

    /// Stops containerd (SIGTERM; shims keep running), runs `while_down`, and starts it again
    /// with the same config and state, as a node's `systemctl restart containerd` does. The CRI
    /// client reconnects on its next call.
    pub fn restart_containerd(&self, while_down: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut guard = self.containerd.lock().unwrap();
        if let Some(mut c) = guard.take() {
            c.stop(Duration::from_secs(10));
        }
        let down = while_down();
        let isola_dir = self.isola.parent().unwrap_or(Path::new("/")).to_path_buf();
        *guard = Some(Containerd::start(&self.layout, &[&isola_dir])?);
        down
    }

    /// Tears everything down and returns what is still left (empty when clean). Idempotent.
    pub fn teardown(&mut self) -> Vec<String> {
        if !self.torn_down {
            self.torn_down = true;
            self.remove_workloads();
            if let Some(mut c) = self.containerd.lock().unwrap().take() {
                c.stop(Duration::from_secs(5));
            }
            if let Some(cri) = self.cri.take() {
                for id in cri.created_pods() {
                    self.track(K8S_NAMESPACE, &id);
                }
            }
            reap_children();
            clean_host(&self.layout, &self.shim_ids.lock().unwrap());
        }
        let ids = self.shim_ids.lock().unwrap().clone();
        teardown::leftovers(&self.layout, &ids)
    }

    /// Stops and removes every pod (CRI) and every `ctr` container of this containerd.
    fn remove_workloads(&self) {
        if let Some(cri) = &self.cri {
            let pods = self.rt.block_on(async {
                let pods = cri.list_pods().await.unwrap_or_default();
                for id in &pods {
                    if let Err(e) = cri.stop_and_remove_pod(id).await {
                        eprintln!("teardown: {e:#}");
                    }
                }
                pods
            });
            for id in pods {
                self.track(K8S_NAMESPACE, &id);
            }
        }
        if self.containerd.lock().unwrap().is_some() {
            let ctr = |args: &[&str]| {
                self.layout.ctr(&self.layout.ctr_namespace).args(args)
                    .output()
            };
            if let Ok(out) = ctr(&["containers", "list", "-q"]) {
                for id in String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| !l.is_empty())
                {
                    let _ = ctr(&["tasks", "kill", "-s", "SIGKILL", id]);
                    let _ = ctr(&["tasks", "delete", "-f", id]);
                    let _ = ctr(&["containers", "delete", id]);
                }
            }
        }
    }
}

/// Removes what containerd does not clean by itself, or what a crash left: processes, cgroups,
/// mounts, links and CNI state of the run laid out by `l`, then its temporary root.
pub fn clean_host(l: &Layout, known_ids: &[(String, String)]) {
    let mut shim_ids = known_ids.to_vec();
    shim_ids.extend(teardown::ids_on_disk(l));
    let shim_ids = &shim_ids;
    for _ in 0..3 {
        let procs = teardown::processes_under(&l.root);
        if procs.is_empty() {
            break;
        }
        for (pid, _) in procs {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for e in teardown::remove_cgroups(&l.cgroup_root) {
        eprintln!("teardown: {e}");
    }
    for m in teardown::unmount_all(&l.root) {
        eprintln!("teardown: still mounted: {m}");
    }
    for link in teardown::delete_links(&l.bridge) {
        eprintln!("teardown: link {link} not deleted");
    }
    for p in teardown::cni_state(&l.network, shim_ids) {
        let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
    }
    for (ns, id) in shim_ids {
        let _ = std::fs::remove_file(teardown::shim_socket(&l.socket, ns, id));
    }
    let _ = std::fs::remove_dir_all(Path::new("/run/containerd/runc").join(&l.ctr_namespace));
    for p in teardown::runwasi_state(l) {
        let _ = std::fs::remove_dir_all(&p);
    }
    // Remove the (now empty) folders containerd created outside its config, if it did.
    for d in [
        "/run/containerd/wasmtime/k8s.io",
        "/run/containerd/wasmtime",
        "/run/containerd/runc",
        "/run/containerd/s",
        "/run/containerd/fifo",
        "/run/containerd",
        "/var/lib/cni/results",
        "/var/lib/cni/networks",
        "/var/lib/cni",
    ] {
        let _ = std::fs::remove_dir(d);
    }
    // Only with nothing mounted below it: never recurse into a live mount.
    if teardown::mounts_under(&l.root).is_empty() {
        if let Err(e) = std::fs::remove_dir_all(&l.root) {
            eprintln!("teardown: removing {}: {e}", l.root.display());
        }
    }
}
/// Folder and name prefix of every run's temporary root; `owner.pid` in it names the process.
const RUN_PARENT: &str = "/tmp";
const RUN_PREFIX: &str = "isola-e2e.";
const OWNER_FILE: &str = "owner.pid";

/// Cleans up after earlier runs whose process died without tearing down (SIGKILL, OOM, power):
/// a root whose owner process is gone is cleaned like a teardown would (shim sockets aside, their
/// ids being unknown).
pub fn sweep_stale_runs() {
    let Ok(entries) = std::fs::read_dir(RUN_PARENT) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(RUN_PREFIX) {
            continue;
        }
        let root = e.path();
        let Some(pid) = std::fs::read_to_string(root.join(OWNER_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        else {
            continue;
        };
        if teardown::process_alive(pid) {
            continue;
        }
        eprintln!(
            "isola-e2e: cleaning up after dead run {pid} at {}",
            root.display()
        );
        clean_host(&Layout::new(&root, pid), &[]);
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let left = self.teardown();
        if !left.is_empty() {
            eprintln!("teardown left behind:\n  {}", left.join("\n  "));
        }
    }
}

fn reap_children() {
    loop {
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if r <= 0 {
            break;
        }
    }
}

/// A file-system-safe name for an image reference.
fn reference_dir(reference: &str) -> String {
    reference
        .rsplit('/')
        .next()
        .unwrap_or(reference)
        .replace(':', "-")
}
