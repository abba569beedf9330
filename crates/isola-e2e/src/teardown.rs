//! Finding and removing everything one suite run put on the host: processes, mounts, cgroups,
//! network links, CNI state and containerd's shim sockets. Every finder is also the leftover
//! check: after a clean teardown each returns nothing. Never touches what another run made: every
//! match is keyed by this run's temporary root, network, bridge, cgroup root or ids.

use crate::containerd::Layout;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// containerd 1.6 puts shim sockets here whatever its config says.
pub const SHIM_SOCKET_DIR: &str = "/run/containerd/s";

/// Processes (other than this one) whose command line names `root`: containerd, its shims
/// (`-address ROOT/containerd.sock`), the runtime and anything started from the root.
pub fn processes_under(root: &Path) -> Vec<(i32, String)> {
    let needle = root.display().to_string();
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(&needle) {
            found.push((pid, cmdline.trim().to_owned()));
        }
    }
    found
}

/// The cgroup directories of this run, one per mounted hierarchy (v1 controllers and unified).
pub fn cgroup_dirs(cgroup_root: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
        return dirs;
    };
    // On a cgroup v2 node /sys/fs/cgroup is the one hierarchy itself.
    let hierarchies = std::iter::once(PathBuf::from("/sys/fs/cgroup")).chain(entries.flatten().map(|e| e.path()));
    for h in hierarchies {
        let dir = h.join(cgroup_root);
        if let Ok(real) = dir.canonicalize() {
            if real.is_dir() && !dirs.contains(&real) {
                dirs.push(real);
            }
        }
    }
    dirs
}

fn walk_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk_dirs(&e.path(), out);
            }
        }
    }
}

/// Pids still in this run's cgroups.
pub fn cgroup_pids(cgroup_root: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for top in cgroup_dirs(cgroup_root) {
        let mut all = Vec::new();
        walk_dirs(&top, &mut all);
        for d in all {
            if let Ok(text) = std::fs::read_to_string(d.join("cgroup.procs")) {
                pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The systemd units of this run still loaded (its slice and what nests in it), systemd driver.
pub fn systemd_units(cgroup_root: &str) -> Vec<String> {
    let Some(prefix) = cgroup_root.strip_suffix(".slice") else { return Vec::new() };
    let out = Command::new("systemctl")
        .args(["list-units", "--all", "--plain", "--no-legend", &format!("{prefix}*")])
        .output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect()
}

/// SIGKILLs the processes in this run's cgroups, then removes the cgroups, deepest first. Under
/// the systemd driver the run's slice is stopped first (systemd removes what it made).
pub fn remove_cgroups(cgroup_root: &str) -> Vec<String> {
    if cgroup_root.ends_with(".slice") {
        let _ = Command::new("systemctl").args(["stop", cgroup_root]).status();
        let _ = Command::new("systemctl").args(["reset-failed", cgroup_root]).status();
    }
    for pid in cgroup_pids(cgroup_root) {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut failed = Vec::new();
        for top in cgroup_dirs(cgroup_root) {
            let mut all = Vec::new();
            walk_dirs(&top, &mut all);
            for d in all.iter().rev() {
                if let Err(e) = std::fs::remove_dir(d) {
                    failed.push(format!("rmdir {}: {e}", d.display()));
                }
            }
        }
        if failed.is_empty() || Instant::now() > deadline {
            return failed;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Mount points at or below `root` in this mount namespace, deepest first.
pub fn mounts_under(root: &Path) -> Vec<String> {
    let prefix = root.display().to_string();
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<String> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.len()));
    found.dedup();
    found
}

fn unescape_mountinfo(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Lazily unmounts every mount below `root` (repeating for stacked mounts).
pub fn unmount_all(root: &Path) -> Vec<String> {
    for _ in 0..5 {
        let mounts = mounts_under(root);
        if mounts.is_empty() {
            return Vec::new();
        }
        for m in mounts {
            if let Ok(c) = std::ffi::CString::new(m) {
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
    }
    mounts_under(root)
}

/// The bridge and the veths enslaved to it.
pub fn network_links(bridge: &str) -> Vec<String> {
    let mut links = Vec::new();
    if let Ok(out) = Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
    {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // "7: vethXXXX@if2: <...>"
            if let Some(name) = line.split(':').nth(1) {
                links.push(name.trim().split('@').next().unwrap_or("").to_owned());
            }
        }
    }
    if Path::new("/sys/class/net").join(bridge).exists() {
        links.push(bridge.to_owned());
    }
    links
}

pub fn delete_links(bridge: &str) -> Vec<String> {
    for link in network_links(bridge) {
        let _ = Command::new("ip").args(["link", "del", &link]).output();
    }
    network_links(bridge)
}

/// CNI state containerd's go-cni keeps outside the config's reach: the result cache
/// (/var/lib/cni/results/NET-* and the CRI's own cni-loopback-SANDBOX-lo) and, had host-local
/// ignored `dataDir`, its lease folder. Only left behind when a pod was never stopped.
pub fn cni_state(network: &str, shim_ids: &[(String, String)]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut prefixes = vec![format!("{network}-")];
    prefixes.extend(shim_ids.iter().map(|(_, id)| format!("cni-loopback-{id}-")));
    if let Ok(entries) = std::fs::read_dir("/var/lib/cni/results") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                found.push(e.path());
            }
        }
    }
    let leases = Path::new("/var/lib/cni/networks").join(network);
    if leases.exists() {
        found.push(leases);
    }
    found
}

/// Where containerd 1.6's shim for (`namespace`, `id`) listens: `/run/containerd/s/` +
/// hex(sha256(join(grpc address, namespace, id))).
pub fn shim_socket(grpc_address: &Path, namespace: &str, id: &str) -> PathBuf {
    let key = grpc_address.join(namespace).join(id);
    let digest = Sha256::digest(key.as_os_str().as_encoded_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Path::new(SHIM_SOCKET_DIR).join(hex)
}

/// Whether `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| !r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// (namespace, id) of the sandboxes and tasks a run's containerd still has on disk: how a sweep
/// finds the shim sockets and CNI results of a run that died.
pub fn ids_on_disk(layout: &Layout) -> Vec<(String, String)> {
    let mut ids = Vec::new();
    let names = |dir: PathBuf| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    for id in names(layout.root.join("root/io.containerd.grpc.v1.cri/sandboxes")) {
        ids.push(("k8s.io".to_owned(), id));
    }
    let tasks = layout.root.join("state/io.containerd.runtime.v2.task");
    for ns in names(tasks.clone()) {
        for id in names(tasks.join(&ns)) {
            ids.push((ns.clone(), id));
        }
    }
    ids
}

/// Where the runwasi peer's shim (youki's libcontainer) keeps container state: one folder per
/// container under `RUNWASI_STATE/<namespace>/`.
pub const RUNWASI_STATE: &str = "/run/containerd/wasmtime";

/// The runwasi peer's state folders of this run: those whose `state.json` names a bundle under
/// the run's temporary root (the container ids themselves may be gone from containerd).
pub fn runwasi_state(layout: &Layout) -> Vec<PathBuf> {
    let root = format!("\"{}/", layout.root.display());
    let mut found = Vec::new();
    for ns in std::fs::read_dir(RUNWASI_STATE).into_iter().flatten().flatten() {
        for c in std::fs::read_dir(ns.path()).into_iter().flatten().flatten() {
            let state = std::fs::read_to_string(c.path().join("state.json")).unwrap_or_default();
            if state.contains(&root) {
                found.push(c.path());
            }
        }
    }
    found
}

/// Everything of this run still on the host; empty after a clean teardown.
pub fn leftovers(layout: &Layout, shim_ids: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (pid, cmd) in processes_under(&layout.root) {
        found.push(format!("process {pid}: {cmd}"));
    }
    for pid in cgroup_pids(&layout.cgroup_root) {
        found.push(format!("process {pid} in cgroup {}", layout.cgroup_root));
    }
    for m in mounts_under(&layout.root) {
        found.push(format!("mount {m}"));
    }
    for d in cgroup_dirs(&layout.cgroup_root) {
        found.push(format!("cgroup {}", d.display()));
    }
    for u in systemd_units(&layout.cgroup_root) {
        found.push(format!("systemd unit {u}"));
    }
    for l in network_links(&layout.bridge) {
        found.push(format!("link {l}"));
    }
    for p in cni_state(&layout.network, shim_ids) {
        found.push(format!("CNI state {}", p.display()));
    }
    for (ns, id) in shim_ids {
        let s = shim_socket(&layout.socket, ns, id);
        if s.exists() {
            found.push(format!("shim socket {} ({ns}/{id})", s.display()));
        }
    }
    for p in runwasi_state(layout) {
        found.push(format!("runwasi peer state {}", p.display()));
    }
    let ctr_runc_root = Path::new("/run/containerd/runc").join(&layout.ctr_namespace);
    if ctr_runc_root.exists() {
        found.push(format!("runtime root {}", ctr_runc_root.display()));
    }
    if layout.root.exists() {
        found.push(format!("temporary root {}", layout.root.display()));
    }
    found
}
