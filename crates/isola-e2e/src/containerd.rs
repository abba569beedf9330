//! A private containerd for one test process: config, CNI conflist, start, readiness, stop.
//! containerd 1.6 from Debian by default; any other build (e.g. containerd 2.x, which takes a
//! version 3 config) by `ISOLA_E2E_CONTAINERD` (see [`containerd_binary`]).
//! Everything it can be told to put somewhere lives in the suite's temporary folder; what it
//! cannot (shim sockets in /run/containerd/s, CNI results in /var/lib/cni) `teardown` removes.

use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Paths and names of one suite run; all derived from the temporary root and the process id,
/// so two runs on one machine (tests and the benchmark) never collide.
#[derive(Clone, Debug)]
pub struct Layout {
    pub root: PathBuf,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
    pub cni_conf_dir: PathBuf,
    pub cni_data_dir: PathBuf,
    pub pod_logs: PathBuf,
    pub isola_root: PathBuf,
    pub runc_root: PathBuf,
    /// CNI network name (also the host-local and result-cache key).
    pub network: String,
    /// Linux bridge the CNI bridge plugin creates (15 characters at most).
    pub bridge: String,
    /// First path component of every pod's `cgroup_parent` (cgroupfs driver), or the systemd
    /// slice every pod's slice nests in (`NAME.slice`, systemd driver).
    pub cgroup_root: String,
    /// The systemd cgroup driver (`SystemdCgroup = true`, as kubeadm sets it on cgroup v2
    /// nodes): chosen by `ISOLA_E2E_CGROUP_DRIVER=systemd` (the VM suite `cri`).
    pub systemd: bool,
    /// containerd namespace of `ctr run` (the CRI uses `k8s.io`).
    pub ctr_namespace: String,
    /// The lab's runwasi peer (`containerd-shim-wasmtime-v1`), registered as the `runwasi`
    /// handler when built (see [`runwasi_shim`]).
    pub runwasi_shim: Option<PathBuf>,
    /// The containerd binary (see [`containerd_binary`]) and its `ctr`.
    pub containerd: PathBuf,
    pub ctr: PathBuf,
    /// The config version that containerd reads: 2 (containerd 1.x) or 3 (containerd 2.x).
    pub config_version: u32,
}

/// The containerd the suite runs: `$ISOLA_E2E_CONTAINERD` (a containerd binary, e.g. the
/// containerd 2.x that `scripts/containerd2.sh` unpacks), else `containerd` on PATH.
pub fn containerd_binary() -> PathBuf {
    std::env::var_os("ISOLA_E2E_CONTAINERD").map_or_else(|| PathBuf::from("containerd"), PathBuf::from)
}

/// The `ctr` that belongs to `containerd`: beside it when it is named by a path, else on PATH.
pub fn ctr_binary(containerd: &Path) -> PathBuf {
    match containerd.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && dir.join("ctr").is_file() => dir.join("ctr"),
        _ => PathBuf::from("ctr"),
    }
}

/// The config version `containerd` reads: 3 when `containerd --version` names a release 2 or
/// later, else 2. A binary that does not run gets 2 (and fails to start with its own error).
pub fn config_version(containerd: &Path) -> u32 {
    let out = Command::new(containerd).arg("--version").output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    match release_major(&text) {
        Some(major) if major >= 2 => 3,
        _ => 2,
    }
}

/// The major release in `containerd --version`'s line: `containerd MODULE VERSION [REVISION]`.
fn release_major(version_line: &str) -> Option<u32> {
    let version = version_line.split_whitespace().nth(2)?;
    version.trim_start_matches('v').split('.').next()?.parse().ok()
}

/// The runwasi peer's shim: `$ISOLA_RUNWASI_SHIM`, else the build of `scripts/peers.sh` under
/// `$ISOLA_PEERS` (default /var/cache/isola-peers), if it is there.
pub fn runwasi_shim() -> Option<PathBuf> {
    let path = match std::env::var_os("ISOLA_RUNWASI_SHIM") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("ISOLA_PEERS").unwrap_or_else(|| "/var/cache/isola-peers".into()))
            .join("runwasi/bin/containerd-shim-wasmtime-v1"),
    };
    path.is_file().then_some(path)
}

impl Layout {
    /// The layout of the run of process `pid` rooted at `root`.
    pub fn new(root: &Path, pid: u32) -> Self {
        let systemd = std::env::var("ISOLA_E2E_CGROUP_DRIVER").is_ok_and(|v| v == "systemd");
        let containerd = containerd_binary();
        Self {
            root: root.to_path_buf(),
            config: root.join("config.toml"),
            socket: root.join("containerd.sock"),
            log: root.join("containerd.log"),
            cni_conf_dir: root.join("cni/net.d"),
            cni_data_dir: root.join("cni/ipam"),
            pod_logs: root.join("pod-logs"),
            isola_root: root.join("isola-root"),
            runc_root: root.join("runc-root"),
            network: format!("isola-e2e-{pid}"),
            bridge: format!("isolae2e{}", pid % 1_000_000),
            // A slice name has no '-' but the ones that nest it in its parent slice.
            cgroup_root: if systemd { format!("isolae2e{pid}.slice") } else { format!("isola-e2e-{pid}") },
            systemd,
            ctr_namespace: format!("isola-e2e-{pid}"),
            runwasi_shim: runwasi_shim(),
            ctr: ctr_binary(&containerd),
            config_version: config_version(&containerd),
            containerd,
        }
    }

    /// The CRI runtime plugin's table, under which `isola install` adds its handlers.
    pub fn cri_runtime_plugin(&self) -> &'static str {
        if self.config_version >= 3 {
            "'io.containerd.cri.v1.runtime'"
        } else {
            "\"io.containerd.grpc.v1.cri\""
        }
    }

    /// A `ctr` command for this containerd and `namespace`.
    pub fn ctr(&self, namespace: &str) -> Command {
        let mut cmd = Command::new(&self.ctr);
        cmd.arg("-a").arg(&self.socket).args(["-n", namespace]);
        cmd
    }

    /// The containerd config: private root/state/sockets, CRI with the suite's pause image,
    /// overlayfs, `restrict_oom_score_adj` (no CAP_SYS_RESOURCE here) and a plain `runc` handler.
    /// The `isola` handler is added afterwards by `isola install`. Version 2 for containerd 1.x;
    /// version 3 for 2.x, where the CRI plugin is split into images, runtime and server tables
    /// (and NRI, on by default there, is turned off: its socket would be the host's).
    pub fn containerd_config(&self, sandbox_image: &str, runc: &Path) -> String {
        let r = self.root.display();
        let mut s = format!(
            r#"version = {version}
root = "{r}/root"
state = "{r}/state"
oom_score = 0

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{r}/containerd.sock.ttrpc"

[debug]
  address = "{r}/debug.sock"
  level = "info"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "{r}/opt"
"#,
            version = self.config_version,
            sock = self.socket.display(),
        );
        let cni = self.cni_conf_dir.display();
        if self.config_version >= 3 {
            let _ = write!(
                s,
                r#"  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "{sandbox_image}"
  [plugins.'io.containerd.cri.v1.runtime']
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    disable_apparmor = true
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ["/usr/lib/cni"]
      conf_dir = "{cni}"
      max_conf_num = 1
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = "runc"
"#
            );
        } else {
            let _ = write!(
                s,
                r#"  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "{sandbox_image}"
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "{cni}"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
"#
            );
        }
        let runtimes = format!("plugins.{}.containerd.runtimes", self.cri_runtime_plugin());
        let _ = write!(
            s,
            r#"      [{runtimes}.runc]
        runtime_type = "io.containerd.runc.v2"
        [{runtimes}.runc.options]
          BinaryName = "{runc}"
          Root = "{runc_root}"
          SystemdCgroup = {systemd}
"#,
            runc = runc.display(),
            runc_root = self.runc_root.display(),
            systemd = self.systemd,
        );
        // containerd finds the shim as `containerd-shim-wasmtime-v1` on its PATH (see `start`).
        if self.runwasi_shim.is_some() {
            let _ = write!(
                s,
                r#"      [{runtimes}.runwasi]
        runtime_type = "io.containerd.wasmtime.v1"
"#
            );
        }
        s
    }

    /// bridge + host-local (state in the temporary folder). No `isGateway` and no `ipMasq`: the
    /// suite's pods need no route out, and so the host's ip_forward and iptables stay untouched.
    /// Loopback is not listed: containerd's CRI always brings `lo` up itself with the `loopback`
    /// plugin from `bin_dir`.
    pub fn cni_conflist(&self) -> String {
        serde_json::json!({
            "cniVersion": "0.4.0",
            "name": self.network,
            "plugins": [{
                "type": "bridge",
                "bridge": self.bridge,
                "isGateway": false,
                "ipMasq": false,
                "hairpinMode": false,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": "10.88.77.0/24"}]],
                    "dataDir": self.cni_data_dir.display().to_string(),
                }
            }]
        })
        .to_string()
    }

    /// Writes config.toml and the conflist; creates the folders they name.
    pub fn write(&self, sandbox_image: &str, runc: &Path) -> Result<()> {
        for d in [
            &self.cni_conf_dir,
            &self.cni_data_dir,
            &self.pod_logs,
            &self.isola_root,
            &self.runc_root,
        ] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        std::fs::write(&self.config, self.containerd_config(sandbox_image, runc))?;
        std::fs::write(
            self.cni_conf_dir.join("10-isola-e2e.conflist"),
            self.cni_conflist(),
        )?;
        Ok(())
    }
}

/// A running containerd, stopped by `stop` (SIGTERM, then SIGKILL after `grace`).
pub struct Containerd {
    child: Option<Child>,
}

impl Containerd {
    /// Starts `containerd --config` and waits until its socket accepts connections.
    /// `shim_dirs` go first on its PATH: containerd 1.6 finds a shim `containerd-shim-NAME-v1`
    /// only there (1.7 and later also take a handler's `runtime_path`).
    pub fn start(layout: &Layout, shim_dirs: &[&Path]) -> Result<Self> {
        // Appended to: a restarted containerd (see Harness::restart_containerd) keeps the first log.
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&layout.log)?;
        let mut cmd = Command::new(&layout.containerd);
        let mut dirs: Vec<&Path> = shim_dirs.to_vec();
        dirs.extend(layout.runwasi_shim.as_deref().and_then(Path::parent));
        // A containerd named by path brings its own runc shim (containerd-shim-runc-v2).
        dirs.extend(layout.containerd.parent().filter(|d| !d.as_os_str().is_empty()));
        if !dirs.is_empty() {
            let mut path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
            for dir in dirs.iter().rev() {
                path = format!("{}:{path}", dir.display());
            }
            cmd.env("PATH", path);
        }
        let child = cmd
            .arg("--config")
            .arg(&layout.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting containerd (install containerd: scripts/setup.sh)")?;
        let mut me = Self { child: Some(child) };
        let deadline = Instant::now() + crate::scaled(Duration::from_secs(20));
        loop {
            if std::os::unix::net::UnixStream::connect(&layout.socket).is_ok() {
                return Ok(me);
            }
            if let Some(status) = me.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!(
                    "containerd exited ({status}) before serving: {}",
                    log_tail(&layout.log)
                );
            }
            if Instant::now() > deadline {
                me.stop(Duration::from_secs(1));
                bail!(
                    "containerd did not open {} within 20 s: {}",
                    layout.socket.display(),
                    log_tail(&layout.log)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL; reaps the process. Idempotent.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// The last lines of a log file, for error messages.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::release_major;

    #[test]
    fn the_release_is_read_from_containerds_version_line() {
        assert_eq!(release_major("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n"), Some(1));
        assert_eq!(release_major("containerd github.com/containerd/containerd/v2 2.1.9+unknown \n"), Some(2));
        assert_eq!(release_major("containerd containerd.io v2.0.0 207ad711"), Some(2));
        assert_eq!(release_major("containerd: command not found"), None);
        assert_eq!(release_major(""), None);
    }
}
