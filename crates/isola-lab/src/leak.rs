//! Leak accounting for the stress runner: a snapshot of what a runtime can leave behind on the
//! host (the caller's fds and children, cgroup dirs, mounts, network namespaces, processes, state
//! entries, module-cache temp files), and the diff of two snapshots. It only reads /proc and
//! /sys: it must never remove or kill anything (the caller cleans up after naming the leak).
//!
//! What counts as a leak is what can be attributed to the run: items that name the run's marker
//! (every container id starts with it) or its work dir, and the lab process's own fds and
//! children. Host-wide totals (all cgroup dirs, all mountinfo lines, all net namespaces) are
//! recorded beside them but never fail a run: other work on the same host moves them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::schema::Counter;

/// What a snapshot looks for.
#[derive(Debug, Clone)]
pub struct Scope {
    /// A string in every container id of the run (cgroup dirs and state entries are named after ids).
    pub marker: String,
    /// The run's own work dir (bundles, rootfs): a process rooted there or a mount under it is ours.
    pub work: PathBuf,
    /// Each runtime's `--root`.
    pub state_roots: Vec<PathBuf>,
    /// isola's module cache dirs (temp files are `<key>.<pid>.<n>.tmp` while a write is in flight).
    pub cache_dirs: Vec<PathBuf>,
}

/// One reading of the host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Open fds of the lab process (the runtime's caller).
    pub fds: usize,
    /// The lab's child processes: pid -> (comm, state letter).
    pub children: BTreeMap<u32, (String, char)>,
    /// Every cgroup hierarchy (v1 and the unified one): mount point -> total dirs.
    pub cgroup_totals: BTreeMap<String, usize>,
    /// cgroup dirs whose name holds the marker.
    pub cgroups: BTreeSet<String>,
    pub mount_lines: usize,
    /// Mount points that hold the marker or lie under the work dir.
    pub mounts: BTreeSet<String>,
    /// Distinct network namespaces of all processes.
    pub netns_total: usize,
    /// Names under /run/netns.
    pub netns_named: BTreeSet<String>,
    /// Processes (other than the lab) whose cmdline, cwd or root names the marker or the work dir.
    pub processes: BTreeSet<String>,
    /// `--root` entries that hold the marker.
    pub state_entries: BTreeSet<String>,
    /// `*.tmp` files in the module cache dirs.
    pub cache_temps: BTreeSet<String>,
}

fn read_link(p: &str) -> String {
    std::fs::read_link(p).map(|l| l.display().to_string()).unwrap_or_default()
}

/// Numeric entries of /proc.
fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|rd| rd.flatten().filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok())).collect())
        .unwrap_or_default()
}

/// (comm, state, ppid) from /proc/PID/stat.
pub fn stat(pid: u32) -> Option<(String, char, u32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    let mut rest = s[close + 2..].split(' ');
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, state, ppid))
}

/// Cgroup mount points (`cgroup` and `cgroup2`) from a mountinfo text.
fn cgroup_mounts(mountinfo: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in mountinfo.lines() {
        let Some((pre, post)) = l.split_once(" - ") else { continue };
        let fstype = post.split(' ').next().unwrap_or("");
        if fstype == "cgroup" || fstype == "cgroup2" {
            if let Some(mp) = pre.split(' ').nth(4) {
                out.push(mp.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Counts the dirs under `root` (itself excluded) and collects those whose name holds `marker`.
fn walk_cgroups(root: &Path, marker: &str, found: &mut BTreeSet<String>) -> usize {
    let mut n = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            n += 1;
            let p = e.path();
            if e.file_name().to_string_lossy().contains(marker) {
                found.insert(p.display().to_string());
            }
            stack.push(p);
        }
    }
    n
}

impl Snapshot {
    pub fn take(scope: &Scope) -> Snapshot {
        let me = std::process::id();
        let work = scope.work.display().to_string();
        let names_us = |s: &str| s.contains(&scope.marker) || (!work.is_empty() && s.contains(&work));
        let mut snap = Snapshot { fds: std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0), ..Default::default() };
        // The read_dir of /proc/self/fd holds one fd while counting.
        snap.fds = snap.fds.saturating_sub(1);
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        snap.mount_lines = mountinfo.lines().count();
        for l in mountinfo.lines() {
            if let Some(mp) = l.split(' ').nth(4) {
                if names_us(mp) {
                    snap.mounts.insert(mp.to_string());
                }
            }
        }
        for mp in cgroup_mounts(&mountinfo) {
            let n = walk_cgroups(Path::new(&mp), &scope.marker, &mut snap.cgroups);
            snap.cgroup_totals.insert(mp, n);
        }
        let mut netns = BTreeSet::new();
        for pid in pids() {
            if let Some(ns) = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok() {
                netns.insert(ns);
            }
            let Some((comm, state, ppid)) = stat(pid) else { continue };
            // A tiered wasm start's background compile outlives its container by design (bounded
            // by the node's compile timeout); as subreaper the lab adopts it and reaps it.
            if ppid == me && comm != "isola-compile" {
                snap.children.insert(pid, (comm.clone(), state));
            }
            if pid == me {
                continue;
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).map(|b| String::from_utf8_lossy(&b).replace('\0', " ")).unwrap_or_default();
            let cwd = read_link(&format!("/proc/{pid}/cwd"));
            let root = read_link(&format!("/proc/{pid}/root"));
            if names_us(&cmdline) || names_us(&cwd) || (root != "/" && names_us(&root)) {
                snap.processes.insert(format!("pid {pid} ({comm}, state {state}): {}", cmdline.trim().chars().take(120).collect::<String>()));
            }
        }
        snap.netns_total = netns.len();
        snap.netns_named = std::fs::read_dir("/run/netns").map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect()).unwrap_or_default();
        for root in &scope.state_roots {
            if let Ok(rd) = std::fs::read_dir(root) {
                for e in rd.flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    if name.contains(&scope.marker) {
                        snap.state_entries.insert(root.join(name).display().to_string());
                    }
                }
            }
        }
        for dir in &scope.cache_dirs {
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    if name.ends_with(".tmp") && !written_by_live_background_compile(&name) {
                        snap.cache_temps.insert(e.path().display().to_string());
                    }
                }
            }
        }
        snap
    }

    pub fn zombies(&self) -> usize {
        self.children.values().filter(|(_, s)| *s == 'Z').count()
    }

    pub fn cgroup_dirs(&self) -> usize {
        self.cgroup_totals.values().sum()
    }
}

fn new_items(before: &BTreeSet<String>, after: &BTreeSet<String>, what: &str) -> Vec<String> {
    after.difference(before).map(|x| format!("{what} {x}")).collect()
}

/// What `after` holds that `before` did not: each item names the leak.
pub fn leaks(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    if after.fds > before.fds {
        out.push(format!("lab process fds {} -> {}", before.fds, after.fds));
    }
    for (pid, (comm, state)) in &after.children {
        if !before.children.contains_key(pid) {
            let what = if *state == 'Z' { "zombie child" } else { "child process" };
            out.push(format!("{what} of the lab: pid {pid} ({comm})"));
        }
    }
    out.extend(new_items(&before.cgroups, &after.cgroups, "cgroup dir"));
    out.extend(new_items(&before.mounts, &after.mounts, "mount"));
    out.extend(new_items(&before.netns_named, &after.netns_named, "named netns /run/netns/"));
    out.extend(new_items(&before.processes, &after.processes, "process"));
    out.extend(new_items(&before.state_entries, &after.state_entries, "state entry"));
    out.extend(new_items(&before.cache_temps, &after.cache_temps, "module-cache temp file"));
    out
}

/// Every figure of two snapshots, for the report (host-wide ones flagged as such).
pub fn counters(before: &Snapshot, after: &Snapshot) -> Vec<Counter> {
    let c = |name: &str, b: usize, a: usize, host_wide: bool| Counter { name: name.to_string(), before: b as u64, after: a as u64, host_wide };
    let mut out = vec![
        c("lab fds", before.fds, after.fds, false),
        c("lab children", before.children.len(), after.children.len(), false),
        c("zombies", before.zombies(), after.zombies(), false),
        c("cgroup dirs (run's ids)", before.cgroups.len(), after.cgroups.len(), false),
        c("mounts (run's paths)", before.mounts.len(), after.mounts.len(), false),
        c("processes (run's paths)", before.processes.len(), after.processes.len(), false),
        c("state entries", before.state_entries.len(), after.state_entries.len(), false),
        c("module-cache temp files", before.cache_temps.len(), after.cache_temps.len(), false),
        c("/run/netns entries", before.netns_named.len(), after.netns_named.len(), false),
        c("cgroup dirs (all hierarchies)", before.cgroup_dirs(), after.cgroup_dirs(), true),
        c("mountinfo lines", before.mount_lines, after.mount_lines, true),
        c("net namespaces", before.netns_total, after.netns_total, true),
    ];
    for (h, a) in &after.cgroup_totals {
        let b = before.cgroup_totals.get(h).copied().unwrap_or(0);
        if a != &b {
            out.push(c(&format!("cgroup dirs in {h}"), b, *a, true));
        }
    }
    out
}

/// A module cache `<key>.<pid>.<n>.tmp` whose writer is a live background compile (a tiered
/// first start's optimised compile, which outlives the container by design) is a write in
/// flight, not a leftover.
fn written_by_live_background_compile(name: &str) -> bool {
    let Some(pid) = name.rsplit('.').nth(2) else { return false };
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"__isola-background-compile"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    fn scope(work: &Path, marker: &str) -> Scope {
        Scope { marker: marker.to_string(), work: work.to_path_buf(), state_roots: vec![work.join("state")], cache_dirs: vec![work.join("cache")] }
    }

    #[test]
    fn cgroup_mount_points_come_from_mountinfo() {
        let text = "30 24 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n\
                    33 24 0:29 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n\
                    40 24 0:35 / /proc rw - proc proc rw\n";
        assert_eq!(cgroup_mounts(text), vec!["/sys/fs/cgroup/memory".to_string(), "/sys/fs/cgroup/unified".to_string()]);
    }

    #[test]
    fn stat_parses_comm_with_spaces_and_parens() {
        let (comm, state, ppid) = stat(std::process::id()).unwrap();
        assert!(!comm.is_empty());
        assert!("RSD".contains(state), "state {state}");
        assert_eq!(ppid, std::os::unix::process::parent_id());
    }

    #[test]
    fn leftover_state_entry_and_cache_temp_file_are_leaks() {
        let work = tempfile::tempdir().unwrap();
        let marker = format!("lab-stress-unit-{}-files", std::process::id());
        let s = scope(work.path(), &marker);
        std::fs::create_dir_all(work.path().join("state")).unwrap();
        std::fs::create_dir_all(work.path().join("cache")).unwrap();
        let before = Snapshot::take(&s);
        std::fs::create_dir(work.path().join("state").join(format!("{marker}-7"))).unwrap();
        std::fs::create_dir(work.path().join("state").join("someone-elses")).unwrap();
        std::fs::write(work.path().join("cache/abc-fp.cwasm.123.0.tmp"), b"x").unwrap();
        std::fs::write(work.path().join("cache/abc-fp.cwasm"), b"x").unwrap();
        let after = Snapshot::take(&s);
        let l: Vec<String> = leaks(&before, &after).into_iter().filter(|x| !x.starts_with("lab process fds") && !x.contains("child")).collect();
        assert_eq!(l.len(), 2, "{l:?}");
        assert!(l.iter().any(|x| x.starts_with("state entry") && x.contains(&marker)), "{l:?}");
        assert!(l.iter().any(|x| x.starts_with("module-cache temp file") && x.ends_with(".tmp")), "{l:?}");
        assert!(leaks(&after, &after).is_empty(), "a snapshot has no leak against itself");
    }

    #[test]
    fn unreaped_child_and_open_fd_are_leaks() {
        let work = tempfile::tempdir().unwrap();
        let s = scope(work.path(), &format!("lab-stress-unit-{}-child", std::process::id()));
        let before = Snapshot::take(&s);
        // Tests run in threads: other tests open fds meanwhile, so only the child is asserted exactly.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Wait until it is a zombie (exited, not reaped).
        for _ in 0..200 {
            if stat(pid).is_some_and(|(_, st, _)| st == 'Z') {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let after = Snapshot::take(&s);
        let l = leaks(&before, &after);
        assert!(l.iter().any(|x| x == &format!("zombie child of the lab: pid {pid} (true)")), "{l:?}");
        child.wait().unwrap();
        let reaped = Snapshot::take(&s);
        assert!(!reaped.children.contains_key(&pid));
        let fd = std::fs::File::open("/proc/self/stat").unwrap();
        let with_fd = Snapshot { fds: reaped.fds + 1, ..reaped.clone() };
        assert!(leaks(&reaped, &with_fd).iter().any(|x| x.starts_with("lab process fds")));
        drop(fd);
    }

    /// A real cgroup dir under the v1 memory hierarchy named after a container id of the run is
    /// found, and gone once removed.
    #[test]
    fn planted_cgroup_dir_is_a_leak() {
        let memory = Path::new("/sys/fs/cgroup/memory");
        if !root() || !memory.is_dir() {
            eprintln!("skipped: needs root and the cgroup v1 memory hierarchy");
            return;
        }
        let work = tempfile::tempdir().unwrap();
        let marker = format!("lab-stress-unit-{}-cg", std::process::id());
        let s = scope(work.path(), &marker);
        let before = Snapshot::take(&s);
        let planted = memory.join("isola-lab-unit").join(format!("{marker}-1"));
        std::fs::create_dir_all(&planted).unwrap();
        let after = Snapshot::take(&s);
        // Tests run as threads of one process: other tests' children and fds come and go.
        let ours = |l: Vec<String>| l.into_iter().filter(|x| x.starts_with("cgroup dir")).collect::<Vec<_>>();
        let l = ours(leaks(&before, &after));
        let _ = std::fs::remove_dir(&planted);
        let _ = std::fs::remove_dir(memory.join("isola-lab-unit"));
        assert_eq!(l, vec![format!("cgroup dir {}", planted.display())]);
        let host = counters(&before, &after).into_iter().find(|c| c.name == "cgroup dirs in /sys/fs/cgroup/memory").expect("per-hierarchy counter");
        assert!(host.after >= host.before + 2 && host.host_wide, "{host:?}");
        assert!(ours(leaks(&before, &Snapshot::take(&s))).is_empty(), "removed dir is no leak");
    }

    /// A real tmpfs mounted under the run's work dir is found, and gone once unmounted.
    #[test]
    fn planted_mount_is_a_leak() {
        if !root() {
            eprintln!("skipped: needs root");
            return;
        }
        let work = tempfile::tempdir_in("/var/tmp").unwrap();
        let s = scope(work.path(), &format!("lab-stress-unit-{}-mnt", std::process::id()));
        let target = work.path().join("rootfs");
        std::fs::create_dir_all(&target).unwrap();
        let before = Snapshot::take(&s);
        let ok = std::process::Command::new("mount").args(["-t", "tmpfs", "lab-unit", target.to_str().unwrap()]).status().unwrap().success();
        assert!(ok, "mount tmpfs");
        let after = Snapshot::take(&s);
        let _ = std::process::Command::new("umount").arg(&target).status();
        let ours = |l: Vec<String>| l.into_iter().filter(|x| x.starts_with("mount")).collect::<Vec<_>>();
        let l = ours(leaks(&before, &after));
        assert_eq!(l, vec![format!("mount {}", target.display())]);
        assert!(after.mount_lines > before.mount_lines);
        assert!(ours(leaks(&before, &Snapshot::take(&s))).is_empty(), "unmounted is no leak");
    }
}
