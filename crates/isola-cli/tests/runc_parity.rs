//! isola against runc on the same bundles (issue 12): where isola is not deliberately stricter
//! it must behave as runc does. Each scenario runs under both (runc 1.1 from Debian, installed
//! by setup) and compares what a caller sees: exit codes, what the workload finds, what hooks
//! are handed, what is left behind. The default node policy does not get in the way here (it
//! adds seccomp and masks, which none of these scenarios touch).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// The tests of this file run one at a time: they compare timings and counts that two
/// parallel container storms on two cores would distort.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

static OUTPUTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A runtime under comparison: its binary with a private `--root`.
struct Rt {
    name: &'static str,
    bin: PathBuf,
    root: PathBuf,
}

impl Rt {
    fn isola(w: &World) -> Rt {
        Rt { name: "isola", bin: PathBuf::from(env!("CARGO_BIN_EXE_isola")), root: w.root.clone() }
    }

    fn runc(w: &World) -> Rt {
        let bin = PathBuf::from("/usr/sbin/runc");
        assert!(bin.exists(), "runc is not installed (scripts/setup.sh installs it)");
        Rt { name: "runc", bin, root: w.scratch.join("runc-root") }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(args).stdin(Stdio::null());
        c
    }

    /// Runs a command to its end. Its output goes through files, not pipes: a container's
    /// init inherits the stdio of `create`, and would hold a pipe open after `create` returns.
    fn run(&self, args: &[&str]) -> Output {
        let dir = process_dir("isola-parity-out-");
        let n = OUTPUTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (out_path, err_path) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
        let status = self
            .cmd(args)
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .unwrap();
        let out = Output { status, stdout: std::fs::read(&out_path).unwrap(), stderr: std::fs::read(&err_path).unwrap() };
        let _ = std::fs::remove_file(&out_path);
        let _ = std::fs::remove_file(&err_path);
        out
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(out.status.success(), "{} {args:?}: {}", self.name, stderr_of(&out));
        out
    }

    fn status(&self, id: &str) -> String {
        let out = self.run(&["state", id]);
        if !out.status.success() {
            return "gone".into();
        }
        serde_json::from_slice::<Value>(&out.stdout).ok().and_then(|v| v["status"].as_str().map(String::from)).unwrap_or_default()
    }

    fn wait_stopped(&self, id: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.status(id) == "stopped" {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

/// A busybox bundle with the signal probe at /bin/signal_probe.
fn probe_bundle(w: &World, name: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut argv = vec!["/bin/signal_probe"];
    argv.extend_from_slice(args);
    let b = w.bundle(name, &argv, edit);
    install_payload(&b, "signal_probe");
    b
}

/// Sends SIGUSR2 right after `start` returns, `rounds` times; returns how many reached the
/// workload (its handler is the first thing it installs).
fn signals_delivered_after_start(rt: &Rt, w: &World, bundle: &Path, rounds: usize) -> usize {
    let mut delivered = 0;
    for round in 0..rounds {
        let id = w.id(&format!("{}-sig{round}", rt.name));
        let out_file = w.scratch.join(format!("{id}.out"));
        let stdout = std::fs::File::create(&out_file).unwrap();
        let status = rt.cmd(&["create", "--bundle", bundle.to_str().unwrap(), &id]).stdout(stdout).stderr(Stdio::null()).status().unwrap();
        assert!(status.success(), "{} create failed", rt.name);
        rt.ok(&["start", &id]);
        rt.ok(&["kill", &id, "USR2"]);
        assert!(rt.wait_stopped(&id, Duration::from_secs(5)), "{}: the probe did not end", rt.name);
        if std::fs::read_to_string(&out_file).unwrap_or_default().contains("USR2") {
            delivered += 1;
        }
        rt.ok(&["delete", &id]);
    }
    delivered
}

/// `start` returns once the workload has been exec'd (isola waits for the exec to close the
/// setup lock), so a signal sent right after it no longer meets the runtime's setup code, which
/// as a pid namespace's init without a handler has it dropped: before that, 5 of 15 were lost.
/// What is left is the workload's own start-up (exec to its first `sigaction`: a pid namespace's
/// init ignores a signal it has no handler for), which every runtime shares. isola's `kill`
/// starts faster than runc's (a Go program), so its signal lands sooner after `start` returned
/// and meets that window more often: 3 and 7 of 200 in two runs beside two fuzzers and a build,
/// runc 0 of 50 both times; 1 to 4 of 200 on a quieter machine. So the bound is 190 of 200.
#[test]
fn a_signal_sent_right_after_start_reaches_the_workload() {
    let _serial = serial();
    let w = World::new("parity-start-signal");
    let bundle = probe_bundle(&w, "usr2", &["usr2"], |_| {});
    let runc = signals_delivered_after_start(&Rt::runc(&w), &w, &bundle, 50);
    let isola = signals_delivered_after_start(&Rt::isola(&w), &w, &bundle, 200);
    eprintln!("signals delivered right after start: isola {isola} of 200, runc {runc} of 50");
    assert!(runc >= 45, "the reference: runc delivered only {runc} of 50");
    assert!(isola >= 190, "isola: only {isola} of 200 signals sent right after start reached the workload (runc: {runc} of 50)");
    assert!(w.containers().is_empty());
}

/// The probe's SigBlk/SigIgn/SigCgt lines under a runtime, run in the foreground.
fn signal_state(rt: &Rt, w: &World, bundle: &Path) -> String {
    let id = w.id(&format!("{}-sigstate", rt.name));
    let out = rt.ok(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    stdout_of(&out)
}

/// One `SigXxx:` mask of the probe's output, without signals 32 and 33: glibc keeps those for
/// itself (no program can set them), and runc's Go init leaves 32 ignored.
fn sig_mask(status: &str, field: &str) -> u64 {
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} in {status:?}"));
    u64::from_str_radix(line[field.len()..].trim(), 16).unwrap() & !0x1_8000_0000
}

#[test]
fn the_workload_starts_with_default_signal_dispositions_and_nothing_blocked() {
    let _serial = serial();
    let w = World::new("parity-sigstate");
    let bundle = probe_bundle(&w, "status", &["status"], |_| {});
    let runc = signal_state(&Rt::runc(&w), &w, &bundle);
    let isola = signal_state(&Rt::isola(&w), &w, &bundle);
    for field in ["SigBlk:", "SigIgn:", "SigCgt:"] {
        assert_eq!(sig_mask(&runc, field), 0, "the reference, runc: {runc}");
        assert_eq!(sig_mask(&isola, field), 0, "isola's workload starts with {field} set (SIGPIPE ignored is 0x1000): {isola}");
    }
}

#[test]
fn kill_then_delete_at_once_always_succeeds_and_leaves_nothing() {
    let _serial = serial();
    let w = World::new("parity-kill-delete");
    let bundle = w.bundle("sleep", &["sleep", "1000"], |_| {});
    let isola = Rt::isola(&w);
    for round in 0..200 {
        let id = w.id(&format!("kd{round}"));
        isola.ok(&["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id]);
        isola.ok(&["kill", &id, "KILL"]);
        let out = isola.run(&["delete", &id]);
        assert!(out.status.success(), "round {round}: delete right after kill KILL: {}", stderr_of(&out));
        w.assert_clean(&id);
    }
    // runc's side of the same sequence, as the reference.
    let runc = Rt::runc(&w);
    for round in 0..20 {
        let id = w.id(&format!("kd-runc{round}"));
        runc.ok(&["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id]);
        runc.ok(&["kill", &id, "KILL"]);
        // runc 1.1 does not wait for the init in `kill`; wait as its callers do.
        assert!(runc.wait_stopped(&id, Duration::from_secs(5)));
        runc.ok(&["delete", &id]);
    }
}

/// A hook that appends what it reads on stdin (the OCI state) to `log`, one line per call.
fn recording_hook(log: &Path, name: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("(cat; echo) | sed 's/^/{name} /' >> {}", log.display())]})
}

/// The `bundle` of the state each hook saw, by hook name.
fn hook_bundles(log: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, json) = l.split_once(' ')?;
            let v: Value = serde_json::from_str(json).ok()?;
            Some((name.to_string(), v["bundle"].as_str()?.to_string()))
        })
        .collect()
}

#[test]
fn hooks_are_handed_the_callers_bundle() {
    let _serial = serial();
    let w = World::new("parity-hook-bundle");
    for rt in [Rt::runc(&w), Rt::isola(&w)] {
        let log = w.scratch.join(format!("{}-hooks.log", rt.name));
        let bundle = w.bundle(&format!("{}-hooks", rt.name), &["true"], |c| {
            c["hooks"] = json!({
                "createRuntime": [recording_hook(&log, "createRuntime")],
                "poststart": [recording_hook(&log, "poststart")],
                "poststop": [recording_hook(&log, "poststop")],
            });
        });
        let id = w.id(&format!("{}-hooks", rt.name));
        rt.ok(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
        let seen = hook_bundles(&log);
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["createRuntime", "poststart", "poststop"], "{}: hooks run", rt.name);
        let want = std::fs::canonicalize(&bundle).unwrap().display().to_string();
        for (name, got) in &seen {
            assert_eq!(got, &want, "{}: the {name} hook was handed another bundle", rt.name);
        }
    }
}

#[test]
fn a_failing_poststop_hook_is_a_warning_and_delete_goes_on() {
    let _serial = serial();
    let w = World::new("parity-poststop");
    for rt in [Rt::runc(&w), Rt::isola(&w)] {
        let bundle = w.bundle(&format!("{}-poststop", rt.name), &["sleep", "1000"], |c| {
            c["hooks"] = json!({"poststop": [{"path": "/bin/false"}]});
        });
        let id = w.id(&format!("{}-poststop", rt.name));
        rt.ok(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
        let out = rt.run(&["delete", &id]);
        assert!(out.status.success(), "{}: delete with a failing poststop hook: {}", rt.name, stderr_of(&out));
        assert_eq!(rt.status(&id), "gone", "{}: the container is still there", rt.name);
        if rt.name == "isola" {
            w.assert_clean(&id);
        }
    }
}

#[test]
fn disable_oom_killer_is_honoured_on_cgroup_v1_and_kept_by_update() {
    let _serial = serial();
    let oom_control = |path: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/memory{path}/memory.oom_control")).unwrap_or_default();
    if !Path::new("/sys/fs/cgroup/memory").is_dir() {
        // cgroup v2: isola refuses the key there (runc ignores it); see the refusal test below.
        let w = World::new("parity-oom-v2");
        let bundle = w.bundle("oom", &["true"], |c| c["linux"]["resources"] = json!({"memory": {"limit": 67108864, "disableOOMKiller": true}}));
        let id = w.id("oom");
        w.refused("disableOOMKiller on v2", &["create", "--bundle", bundle.to_str().unwrap(), &id], &["disableOOMKiller", "cgroup v2"]);
        return;
    }
    let w = World::new("parity-oom");
    for rt in [Rt::runc(&w), Rt::isola(&w)] {
        let id = w.id(&format!("{}-oom", rt.name));
        let cgroup = format!("/parity/{id}");
        let bundle = w.bundle(&format!("{}-oom", rt.name), &["sleep", "1000"], |c| {
            c["linux"]["cgroupsPath"] = json!(cgroup);
            c["linux"]["resources"] = json!({"memory": {"limit": 67108864, "disableOOMKiller": true}});
        });
        rt.ok(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
        assert!(oom_control(&cgroup).contains("oom_kill_disable 1"), "{}: {}", rt.name, oom_control(&cgroup));
        let resources = w.scratch.join(format!("{id}-update.json"));
        std::fs::write(&resources, r#"{"memory": {"limit": 100663296}}"#).unwrap();
        rt.ok(&["update", "--resources", resources.to_str().unwrap(), &id]);
        assert!(oom_control(&cgroup).contains("oom_kill_disable 1"), "{} after update: {}", rt.name, oom_control(&cgroup));
        rt.ok(&["delete", "--force", &id]);
    }
}

#[test]
fn an_init_failure_names_its_cause() {
    let _serial = serial();
    let w = World::new("parity-causes");
    // A rootfs whose /proc is a symlink: runc says the mount target must be a directory, and
    // so must isola (it used to say only "failed to prepare rootfs").
    let bundle = w.bundle("proc-link", &["true"], |_| {});
    let proc_dir = bundle.join("rootfs/proc");
    std::fs::remove_dir(&proc_dir).unwrap();
    std::os::unix::fs::symlink("/tmp", &proc_dir).unwrap();
    let id = w.id("proc-link");
    let runc = Rt::runc(&w).run(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(!runc.status.success(), "the reference: runc refuses it");
    w.refused("/proc a symlink", &["create", "--bundle", bundle.to_str().unwrap(), &id], &["mount of proc on /proc", "must be mounted on ordinary directory"]);
    w.assert_clean(&id);
}

/// What an exec'd process reports about itself: ids, groups, cwd, one variable, its
/// no_new_privs bit and capability sets.
const SELF_REPORT: &str = "id -u; id -g; id -G; pwd; echo \"FOO=$FOO\"; grep -E '^(NoNewPrivs|CapBnd|CapEff|CapPrm)' /proc/self/status";

#[test]
fn exec_takes_runcs_process_flags() {
    let _serial = serial();
    let w = World::new("parity-exec-flags");
    let flags = ["-u", "1000:1001", "-g", "2000", "-g", "2001", "--cwd", "/tmp", "-e", "FOO=bar", "--no-new-privs", "--cap", "CAP_CHOWN"];
    let mut reports = Vec::new();
    for rt in [Rt::runc(&w), Rt::isola(&w)] {
        let bundle = w.bundle(&format!("{}-exec", rt.name), &["sleep", "1000"], |c| c["process"]["noNewPrivileges"] = json!(false));
        let id = w.id(&format!("{}-exec", rt.name));
        rt.ok(&["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id]);
        let mut args = vec!["exec"];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&[&id, "sh", "-c", SELF_REPORT]);
        let out = rt.ok(&args);
        reports.push(stdout_of(&out));
        rt.ok(&["delete", "--force", &id]);
    }
    let (runc, isola) = (&reports[0], &reports[1]);
    assert!(runc.starts_with("1000\n1001\n"), "the reference: {runc}");
    assert!(runc.contains("NoNewPrivs:\t1"), "the reference: {runc}");
    assert_eq!(isola, runc, "exec with runc's flags: isola's process differs from runc's");
}

#[test]
fn exec_into_a_sub_cgroup_is_cleaned_up_with_the_container() {
    let _serial = serial();
    let w = World::new("parity-exec-cgroup");
    let isola = Rt::isola(&w);
    let bundle = w.bundle("sub", &["sleep", "1000"], |_| {});
    let id = w.id("sub");
    isola.ok(&["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id]);
    isola.ok(&["exec", "--detach", "--cgroup", "extra", &id, "sleep", "1000"]);
    let sub = cgroup_hierarchies()
        .into_iter()
        .map(|h| h.join("isola").join(&id).join("extra"))
        .find(|d| d.is_dir())
        .expect("the exec made its sub-cgroup");
    let procs = std::fs::read_to_string(sub.join("cgroup.procs")).unwrap();
    assert_eq!(procs.lines().count(), 1, "the exec'd process is in {}: {procs:?}", sub.display());
    let out = isola.run(&["exec", "--cgroup", "../escape", &id, "true"]);
    assert!(!out.status.success(), "a sub-cgroup outside the container's is refused");
    isola.ok(&["kill", &id, "KILL"]);
    isola.ok(&["delete", &id]);
    w.assert_clean(&id);
}

// ---------------------------------------------------------------------------------------
// The workload's view of itself, scenario by scenario
// ---------------------------------------------------------------------------------------

/// Everything the workload can see of its setup, one `key: value` line each (sorted where the
/// order is not meaningful): ids, cwd, umask, hostname, environment, rlimits, oom_score_adj,
/// id maps, the status lines of privileges and signals, mounts (point, type, options), sysctls.
const VIEW: &str = r#"
echo "uid: $(id -u)"; echo "gid: $(id -g)"; echo "groups: $(id -G)"; echo "cwd: $(pwd)"; echo "umask: $(umask)"
echo "hostname: $(cat /proc/sys/kernel/hostname)"; echo "domainname: $(cat /proc/sys/kernel/domainname)"
busybox env | busybox sort | busybox sed 's/^/env: /'
busybox sed 's/^/limit: /' /proc/self/limits
echo "oom_score_adj: $(cat /proc/self/oom_score_adj)"
busybox sed 's/^/uid_map: /' /proc/self/uid_map; busybox sed 's/^/gid_map: /' /proc/self/gid_map
grep -E '^(NoNewPrivs|Seccomp|Cap(Inh|Prm|Eff|Bnd|Amb)|Sig(Blk|Ign|Cgt)):' /proc/self/status | busybox sed 's/^/status: /'
busybox awk '{print "mount: " $5 " " $(NF-2) " " $6}' /proc/self/mountinfo | busybox sort
echo "sysctl ip_forward: $(cat /proc/sys/net/ipv4/ip_forward)"; echo "sysctl shmmax: $(cat /proc/sys/kernel/shmmax)"
for f in memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes memory/memory.memsw.limit_in_bytes \
    memory/memory.swappiness memory/memory.oom_control cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us \
    cpuset/cpuset.cpus cpuset/cpuset.mems pids/pids.max blkio/blkio.throttle.read_bps_device \
    blkio/blkio.throttle.write_iops_device devices/devices.list freezer/freezer.state; do
  [ -e /sys/fs/cgroup/$f ] && echo "cgroup $f: $(busybox sort /sys/fs/cgroup/$f | busybox tr '\n' ' ')"
done
true
"#;

/// Differences isola makes on purpose (README, "Hardened by default"), as line prefixes of the
/// view, with what they are; none of the scenarios below may differ anywhere else.
const DELIBERATE: &[(&str, &str)] = &[
    ("status: NoNewPrivs:", "noNewPrivileges is always on (no key turns it off)"),
    ("domainname:", "isola sets runtime-spec 1.1's `domainname`; runc 1.1.5 predates it and ignores it"),
];

/// A view line as compared. Signal masks leave out 32 and 33 (glibc's own; runc's Go init
/// leaves 32 ignored). A read-only mount's options leave out nosuid, nodev and noexec, which
/// isola's read-only remount (readonlyPaths) always adds and runc 1.1's drops: returned as a
/// deliberate difference when that is what made two lines differ.
fn normalise(line: &str) -> (String, Option<&'static str>) {
    if let Some(rest) = line.strip_prefix("status: Sig") {
        if let Some((name, hex)) = rest.split_once(":\t") {
            if let Ok(mask) = u64::from_str_radix(hex.trim(), 16) {
                return (format!("status: Sig{name}:\t{:016x}", mask & !0x1_8000_0000), None);
            }
        }
    }
    if let Some(rest) = line.strip_prefix("mount: ") {
        let fields: Vec<&str> = rest.split(' ').collect();
        if fields.len() == 3 && fields[2].split(',').next() == Some("ro") {
            let opts: Vec<&str> = fields[2].split(',').filter(|o| !matches!(*o, "nosuid" | "nodev" | "noexec")).collect();
            let norm = format!("mount: {} {} {}", fields[0], fields[1], opts.join(","));
            let why = (norm != line).then_some("a read-only path is remounted nosuid,nodev,noexec too (runc 1.1 drops the flags)");
            return (norm, why);
        }
    }
    (line.to_string(), None)
}

/// A node policy that lets runc's behaviour through where a key exists: no seccomp profile of
/// isola's own (`default-seccomp = false`), privileged specs allowed.
fn parity_policy(w: &World) -> PathBuf {
    let path = w.scratch.join("parity-policy.toml");
    std::fs::write(&path, "default-seccomp = false\nallow-privileged = true\n").unwrap();
    path
}

/// The view of one scenario under one runtime (`run` in the foreground).
fn view(rt: &Rt, w: &World, scenario: &str, edit: &dyn Fn(&mut Value)) -> Vec<String> {
    let bundle = w.bundle(&format!("{}-{scenario}", rt.name), &["sh", "-c", VIEW], |c| edit(c));
    std::fs::create_dir_all(bundle.join("rootfs/mnt")).unwrap();
    std::fs::create_dir_all(bundle.join("rootfs/etc")).unwrap();
    std::fs::write(bundle.join("rootfs/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n").unwrap();
    let id = w.id(&format!("{}-{scenario}", rt.name));
    let policy = parity_policy(w);
    let out = if rt.name == "isola" {
        rt.run(&["--config", policy.to_str().unwrap(), "run", "--bundle", bundle.to_str().unwrap(), &id])
    } else {
        rt.run(&["run", "--bundle", bundle.to_str().unwrap(), &id])
    };
    assert!(out.status.success(), "{} {scenario}: {}", rt.name, stderr_of(&out));
    stdout_of(&out).lines().map(String::from).collect()
}

type Edit = Box<dyn Fn(&mut Value)>;

fn view_scenarios(share: &Path) -> Vec<(&'static str, Edit)> {
    let share = share.display().to_string();
    vec![
        ("default", Box::new(|_| {})),
        ("user", Box::new(|c| c["process"]["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [2000, 2001]}))),
        ("umask", Box::new(|c| c["process"]["user"]["umask"] = json!(0o077))),
        ("cwd", Box::new(|c| c["process"]["cwd"] = json!("/tmp"))),
        ("env", Box::new(|c| c["process"]["env"] = json!(["PATH=/bin", "A=1", "B=two words", "EMPTY="]))),
        ("hostname", Box::new(|c| c["hostname"] = json!("parity-host"))),
        ("rlimits", Box::new(|c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 200, "soft": 100}, {"type": "RLIMIT_NPROC", "hard": 50, "soft": 40}, {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}]))),
        ("oom_score_adj", Box::new(|c| c["process"]["oomScoreAdj"] = json!(500))),
        ("capabilities", Box::new(|c| {
            let caps = json!(["CAP_CHOWN", "CAP_FOWNER", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"]);
            c["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
        })),
        ("ambient", Box::new(|c| {
            let caps = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
            c["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps});
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        })),
        ("no_capabilities", Box::new(|c| c["process"]["capabilities"] = json!({}))),
        ("capabilities_absent", Box::new(|c| {
            c["process"].as_object_mut().unwrap().remove("capabilities");
        })),
        ("writable_root", Box::new(|c| c["root"]["readonly"] = json!(false))),
        ("masked_and_readonly", Box::new(|c| {
            c["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]);
            c["linux"]["readonlyPaths"] = json!(["/proc/sys", "/proc/bus", "/tmp"]);
        })),
        ("sysctl", Box::new(|c| c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096"}))),
        ("tmpfs_options", Box::new(|c| {
            let mounts = c["mounts"].as_array_mut().unwrap();
            mounts.push(json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=700"]}));
        })),
        ("bind_ro", Box::new({
            let share = share.clone();
            move |c| {
                let mounts = c["mounts"].as_array_mut().unwrap();
                mounts.push(json!({"destination": "/mnt", "type": "bind", "source": share, "options": ["rbind", "ro", "nosuid"]}));
            }
        })),
        ("no_new_privs_off", Box::new(|c| c["process"]["noNewPrivileges"] = json!(false))),
        ("user_without_passwd_entry", Box::new(|c| c["process"]["user"] = json!({"uid": 4242, "gid": 4242}))),
        ("home_given", Box::new(|c| c["process"]["env"] = json!(["PATH=/bin", "HOME=/given"]))),
        ("umask_022_user", Box::new(|c| c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "umask": 0o022}))),
        ("domainname", Box::new(|c| c["domainname"] = json!("parity.example"))),
        ("rlimits_memory", Box::new(|c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_MEMLOCK", "hard": 65536, "soft": 65536}, {"type": "RLIMIT_STACK", "hard": 16777216, "soft": 8388608}, {"type": "RLIMIT_AS", "hard": 1073741824, "soft": 1073741824}]))),
        ("rlimits_files_and_signals", Box::new(|c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}, {"type": "RLIMIT_SIGPENDING", "hard": 100, "soft": 100}, {"type": "RLIMIT_MSGQUEUE", "hard": 8192, "soft": 8192}]))),
        ("oom_score_adj_max", Box::new(|c| c["process"]["oomScoreAdj"] = json!(1000))),
        ("bounding_only", Box::new(|c| c["process"]["capabilities"] = json!({"bounding": ["CAP_KILL", "CAP_CHOWN"]}))),
        ("sysctl_ipc", Box::new(|c| c["linux"]["sysctl"] = json!({"kernel.shmmax": "8192", "kernel.msgmax": "4096"}))),
        ("tmpfs_owner", Box::new(|c| {
            let mounts = c["mounts"].as_array_mut().unwrap();
            mounts.push(json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["uid=1000", "gid=1000", "mode=750", "size=2m"]}));
        })),
        ("bind_rw", Box::new({
            let share = share.clone();
            move |c| {
                let mounts = c["mounts"].as_array_mut().unwrap();
                mounts.push(json!({"destination": "/mnt", "type": "bind", "source": share, "options": ["rbind", "rw", "nodev"]}));
            }
        })),
        ("masked_file_and_dir", Box::new(|c| c["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/timer_list", "/sys/firmware", "/proc/acpi"]))),
        ("no_masks_no_readonly", Box::new(|c| {
            c["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
            c["linux"]["readonlyPaths"] = json!(["/proc/sysrq-trigger"]);
        })),
        ("cgroup_namespace", Box::new(|c| c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"})))),
        ("env_spaces_and_unicode", Box::new(|c| c["process"]["env"] = json!(["PATH=/bin", "X=a b  c", "Y=\u{e9}t\u{e9}"]))),
        ("user_namespace", Box::new(|c| {
            c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
            c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        })),
        ("user_namespace_split_maps", Box::new(|c| {
            c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 1000}, {"containerID": 1000, "hostID": 401000, "size": 1000}]);
            c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 2000}]);
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        })),
        ("cgroup_memory", cgroup_scenario(json!({"memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728, "swappiness": 10}}))),
        ("cgroup_cpu", cgroup_scenario(json!({"cpu": {"shares": 512, "quota": 50000, "period": 200000}}))),
        ("cgroup_cpuset", cgroup_scenario(json!({"cpu": {"cpus": "0", "mems": "0"}}))),
        ("cgroup_pids", cgroup_scenario(json!({"pids": {"limit": 64}}))),
        ("cgroup_blkio_throttle", cgroup_scenario({
            let (major, minor) = a_block_device();
            json!({"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}], "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]}})
        })),
        ("cgroup_devices", cgroup_scenario(json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "r"},
            {"allow": true, "type": "b", "major": 7, "access": "m"}
        ]}))),
        ("cgroup_no_resources", cgroup_scenario(json!({}))),
    ]
}

/// A scenario that mounts the container's cgroups at /sys/fs/cgroup (read-only, as
/// containerd's default spec does) and sets `resources`: the view then holds their values.
fn cgroup_scenario(resources: Value) -> Edit {
    Box::new(move |c| {
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}));
        c["linux"]["resources"] = resources.clone();
    })
}

/// The major and minor numbers of some block device of this machine (throttle rules name one).
fn a_block_device() -> (u64, u64) {
    let dev = std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with("loop"))
        .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .expect("a block device");
    let (major, minor) = dev.trim().split_once(':').unwrap();
    (major.parse().unwrap(), minor.parse().unwrap())
}

/// Compares one scenario's views: a line only one side has is a failure unless a deliberate
/// difference explains it (then it is listed in `deliberate`).
fn compare_views(name: &str, runc: &[String], isola: &[String], failures: &mut Vec<String>, deliberate: &mut Vec<String>) {
    let norm = |v: &[String]| v.iter().map(|l| normalise(l).0).collect::<Vec<_>>();
    let (na, nb) = (norm(runc), norm(isola));
    for line in isola.iter().filter(|l| !runc.contains(l)) {
        if let (n, Some(why)) = normalise(line) {
            if na.contains(&n) {
                deliberate.push(format!("isola {line} ({why})"));
            }
        }
    }
    let only = |x: &[String], y: &[String]| x.iter().filter(|l| !y.contains(l)).cloned().collect::<Vec<_>>();
    for (side, lines) in [("runc only", only(&na, &nb)), ("isola only", only(&nb, &na))] {
        for line in lines {
            match DELIBERATE.iter().find(|(prefix, _)| line.starts_with(prefix)) {
                Some((_, why)) => deliberate.push(format!("{side}: {line} ({why})")),
                None => failures.push(format!("{name}: {side}: {line}")),
            }
        }
    }
}

fn report_views(what: &str, count: usize, failures: Vec<String>, mut deliberate: Vec<String>) {
    deliberate.sort();
    deliberate.dedup();
    eprintln!("{count} {what} scenarios compared; deliberate differences:\n  {}", deliberate.join("\n  "));
    assert!(failures.is_empty(), "the {what} differs from runc's:\n  {}", failures.join("\n  "));
}

#[test]
fn the_workload_sees_the_same_setup_as_under_runc() {
    let _serial = serial();
    let w = World::new("parity-view");
    let share = w.scratch.join("share");
    std::fs::create_dir_all(&share).unwrap();
    let (runc, isola) = (Rt::runc(&w), Rt::isola(&w));
    let (mut failures, mut deliberate) = (Vec::new(), Vec::new());
    let scenarios = view_scenarios(&share);
    for (name, edit) in &scenarios {
        let a = view(&runc, &w, name, edit.as_ref());
        let b = view(&isola, &w, name, edit.as_ref());
        compare_views(name, &a, &b, &mut failures, &mut deliberate);
    }
    report_views("workload's view", scenarios.len(), failures, deliberate);
}

/// The view of a process exec'd with `flags` into a running container of the default bundle.
fn exec_view(rt: &Rt, w: &World, scenario: &str, flags: &[&str]) -> Vec<String> {
    let bundle = w.bundle(&format!("{}-exec-{scenario}", rt.name), &["sleep", "1000"], |c| {
        c["process"]["noNewPrivileges"] = json!(false);
        c["linux"]["sysctl"] = json!({"kernel.shmmax": "4096"});
    });
    std::fs::create_dir_all(bundle.join("rootfs/etc")).unwrap();
    std::fs::write(bundle.join("rootfs/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n").unwrap();
    let id = w.id(&format!("{}-exec-{scenario}", rt.name));
    let policy = parity_policy(w);
    let mut run = vec!["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id];
    if rt.name == "isola" {
        run.splice(0..0, ["--config", policy.to_str().unwrap()]);
    }
    rt.ok(&run);
    let mut exec = vec!["exec"];
    exec.extend_from_slice(flags);
    exec.extend_from_slice(&[&id, "sh", "-c", VIEW]);
    let out = rt.run(&exec);
    rt.ok(&["delete", "--force", &id]);
    assert!(out.status.success(), "{} exec {scenario}: {}", rt.name, stderr_of(&out));
    stdout_of(&out).lines().map(String::from).collect()
}

#[test]
fn an_exec_sees_the_same_setup_as_under_runc() {
    let _serial = serial();
    let w = World::new("parity-exec-view");
    let (runc, isola) = (Rt::runc(&w), Rt::isola(&w));
    let scenarios: [(&str, &[&str]); 4] = [
        ("plain", &[]),
        ("user_cwd_env", &["-u", "1000:1000", "--cwd", "/tmp", "-e", "A=1", "-e", "PATH=/bin"]),
        ("capabilities_and_groups", &["--cap", "CAP_CHOWN", "--cap", "CAP_SETUID", "-g", "3000", "--no-new-privs"]),
        ("root_with_supplementary_groups", &["-u", "0:10", "-g", "20", "-g", "30"]),
    ];
    let (mut failures, mut deliberate) = (Vec::new(), Vec::new());
    for (name, flags) in scenarios {
        let a = exec_view(&runc, &w, name, flags);
        let b = exec_view(&isola, &w, name, flags);
        compare_views(name, &a, &b, &mut failures, &mut deliberate);
    }
    report_views("exec'd process's view", scenarios.len(), failures, deliberate);
}

// ---------------------------------------------------------------------------------------
// Lifecycle, state, signals and hooks, step by step
// ---------------------------------------------------------------------------------------

/// One scenario under one runtime: its commands name the container `ID` and the scenario's
/// bundle `BUNDLE` (shared by both runtimes), and each step adds what a caller sees of it to
/// `seen`, in terms that do not depend on the runtime (no ids, pids, times or paths of its own).
struct Case<'a> {
    rt: &'a Rt,
    w: &'a World,
    id: String,
    bundle: PathBuf,
    seen: Vec<String>,
}

impl Case<'_> {
    fn args(&self, args: &[&str]) -> Vec<String> {
        let bundle = self.bundle.display().to_string();
        args.iter().map(|a| a.replace("BUNDLE", &bundle).replace("ID", &self.id)).collect()
    }

    fn run(&self, args: &[&str]) -> Output {
        let args = self.args(args);
        self.rt.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Runs a runtime command: records whether it succeeded and the status it left (not after
    /// `kill`: runc's returns before the signal has taken effect, isola's KILL waits for it; the
    /// scenarios wait for the container to stop instead).
    fn step(&mut self, args: &[&str]) {
        let verdict = if self.run(args).status.success() { "ok" } else { "error" };
        if args[0] == "kill" {
            self.seen.push(format!("{} -> {verdict}", args.join(" ")));
            return;
        }
        let status = self.rt.status(&self.id);
        self.seen.push(format!("{} -> {verdict}, {status}", args.join(" ")));
    }

    /// Runs a command whose exit code is the workload's (foreground `run`, `exec`): records it.
    fn code(&mut self, args: &[&str]) {
        let code = self.run(args).status.code();
        self.seen.push(format!("{} -> exit {code:?}", args.join(" ")));
    }

    /// Records the `state` JSON without what differs by nature (id, pid, creation time, the
    /// runtime-spec version each implements).
    fn state(&mut self) {
        let out = self.run(&["state", "ID"]);
        let Ok(Value::Object(mut state)) = serde_json::from_slice::<Value>(&out.stdout) else {
            self.seen.push(format!("state -> no JSON ({})", out.status));
            return;
        };
        for key in ["id", "pid", "created", "ociVersion"] {
            self.seen.push(format!("state has {key}: {}", state.remove(key).is_some()));
        }
        let mut fields: Vec<String> = state.iter().map(|(k, v)| format!("state {k}: {v}")).collect();
        fields.sort();
        self.seen.extend(fields);
    }

    fn wait_stopped(&mut self) {
        let stopped = self.rt.wait_stopped(&self.id, Duration::from_secs(5));
        self.seen.push(format!("stopped within 5 s: {stopped}"));
    }

    /// Waits (5 s at most) until the file at `path` under the bundle has `lines` lines, and
    /// records its content.
    fn wait_lines(&mut self, path: &str, lines: usize) {
        let file = self.bundle.join(path);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut text = String::new();
        while Instant::now() < deadline {
            text = std::fs::read_to_string(&file).unwrap_or_default();
            if text.lines().count() >= lines {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.seen.push(format!("{path}: {:?}", text.lines().collect::<Vec<_>>()));
    }

    /// A file the scenario's workload or hooks wrote, under the bundle.
    fn record_file(&mut self, path: &str) {
        let text = std::fs::read_to_string(self.bundle.join(path)).unwrap_or_default();
        self.seen.push(format!("{path}: {:?}", text.lines().collect::<Vec<_>>()));
    }

    /// Ends the scenario: the container is removed whatever state it is in.
    fn end(mut self) -> Vec<String> {
        let _ = self.run(&["delete", "--force", "ID"]);
        if self.rt.name == "isola" {
            self.w.assert_clean(&self.id);
        }
        std::mem::take(&mut self.seen)
    }
}

type Script = fn(&mut Case);

/// A workload that reports each of HUP, USR1 and TERM it receives to /out/log, one line each
/// (TERM ends it), once it has written /out/ready.
const TRAPS: &str = "trap 'echo HUP >> /out/log' HUP; trap 'echo USR1 >> /out/log' USR1; \
    trap 'echo TERM >> /out/log; exit 0' TERM; echo ready > /out/ready; i=0; \
    while [ $i -lt 6000 ]; do sleep 0.05; i=$((i+1)); done";

/// The scenarios: name, the workload's argv, an edit of the config, the steps.
fn lifecycle_scenarios() -> Vec<(&'static str, Vec<&'static str>, Edit, Script)> {
    let none = || -> Edit { Box::new(|_| {}) };
    let sleep = || vec!["sleep", "1000"];
    let out_dir = || -> Edit {
        Box::new(|c| c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/out", "type": "bind", "source": "out", "options": ["rbind", "rw"]})))
    };
    vec![
        ("create_start_kill_delete", sleep(), none(), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.state();
            c.step(&["start", "ID"]);
            c.state();
            c.step(&["kill", "ID", "KILL"]);
            c.wait_stopped();
            c.state();
            c.step(&["delete", "ID"]);
            c.step(&["state", "ID"]);
        }),
        ("start_twice", sleep(), none(), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.step(&["start", "ID"]);
            c.step(&["start", "ID"]);
        }),
        ("delete_running", sleep(), none(), |c| {
            c.step(&["run", "--detach", "--bundle", "BUNDLE", "ID"]);
            c.step(&["delete", "ID"]);
            c.step(&["delete", "--force", "ID"]);
        }),
        ("create_an_existing_id", sleep(), none(), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.state();
        }),
        ("unknown_id", sleep(), none(), |c| {
            for cmd in [&["state", "ID"][..], &["start", "ID"], &["kill", "ID", "KILL"], &["delete", "ID"], &["delete", "--force", "ID"], &["pause", "ID"], &["resume", "ID"], &["ps", "ID"], &["exec", "ID", "true"]] {
                c.step(cmd);
            }
        }),
        ("pause_resume", sleep(), none(), |c| {
            c.step(&["run", "--detach", "--bundle", "BUNDLE", "ID"]);
            c.step(&["pause", "ID"]);
            c.state();
            c.step(&["pause", "ID"]);
            c.step(&["resume", "ID"]);
            c.step(&["resume", "ID"]);
            c.step(&["delete", "ID"]);
        }),
        ("pause_a_created_container", sleep(), none(), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.step(&["pause", "ID"]);
            c.step(&["delete", "ID"]);
        }),
        ("kill_a_stopped_container", vec!["true"], none(), |c| {
            c.step(&["run", "--detach", "--bundle", "BUNDLE", "ID"]);
            c.wait_stopped();
            c.step(&["kill", "ID", "KILL"]);
            c.step(&["start", "ID"]);
            c.step(&["exec", "ID", "true"]);
            c.step(&["delete", "ID"]);
        }),
        ("delete_an_unstarted_container", sleep(), none(), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.step(&["delete", "ID"]);
        }),
        ("signal_spellings", vec!["sh", "-c", TRAPS], out_dir(), |c| {
            c.step(&["run", "--detach", "--bundle", "BUNDLE", "ID"]);
            c.wait_lines("out/ready", 1);
            for (n, signal) in ["HUP", "SIGUSR1", "1", "usr1", "sigHup"].iter().enumerate() {
                c.step(&["kill", "ID", signal]);
                c.wait_lines("out/log", n + 1);
            }
            c.step(&["kill", "ID", "NOSUCHSIGNAL"]);
            c.step(&["kill", "ID", "65"]);
            c.step(&["kill", "ID"]);
            c.wait_stopped();
            c.record_file("out/log");
        }),
        ("kill_all", sleep(), none(), |c| {
            c.step(&["run", "--detach", "--bundle", "BUNDLE", "ID"]);
            c.step(&["exec", "--detach", "ID", "sleep", "1000"]);
            let pids = c.run(&["ps", "--format", "json", "ID"]);
            let count = serde_json::from_slice::<Vec<i64>>(&pids.stdout).map(|p| p.len()).unwrap_or(0);
            c.seen.push(format!("ps --format json: {count} pids"));
            c.step(&["kill", "--all", "ID", "KILL"]);
            c.wait_stopped();
            c.step(&["delete", "ID"]);
        }),
        ("foreground_exit_codes", vec!["sh", "-c", "exit 3"], none(), |c| {
            c.code(&["run", "--bundle", "BUNDLE", "ID"]);
            c.step(&["state", "ID"]);
        }),
        ("foreground_exit_255", vec!["sh", "-c", "exit 255"], none(), |c| {
            c.code(&["run", "--bundle", "BUNDLE", "ID"]);
        }),
        ("foreground_killed_by_a_signal", vec!["sh", "-c", TRAPS], out_dir(), |c| {
            let args = c.args(&["run", "--bundle", "BUNDLE", "ID"]);
            let mut run = c.rt.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            c.wait_lines("out/ready", 1);
            c.step(&["kill", "ID", "KILL"]);
            let deadline = Instant::now() + Duration::from_secs(10);
            let status = loop {
                match run.try_wait().unwrap() {
                    Some(status) => break Some(status),
                    None if Instant::now() > deadline => break None,
                    None => std::thread::sleep(Duration::from_millis(10)),
                }
            };
            let _ = run.kill();
            let _ = run.wait();
            c.seen.push(format!("run, its workload killed -> exit {:?}", status.map(|s| s.code())));
        }),
        ("a_missing_executable", vec!["/bin/no-such-program"], none(), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.step(&["run", "--bundle", "BUNDLE", "ID"]);
        }),
        ("a_missing_rootfs", sleep(), Box::new(|c| c["root"]["path"] = json!("no-such-rootfs")), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
        }),
        ("a_bundle_without_config", sleep(), none(), |c| {
            std::fs::rename(c.bundle.join("config.json"), c.bundle.join("config.json.away")).unwrap();
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            std::fs::rename(c.bundle.join("config.json.away"), c.bundle.join("config.json")).unwrap();
        }),
        ("exec_exit_codes", sleep(), none(), |c| {
            c.step(&["run", "--detach", "--bundle", "BUNDLE", "ID"]);
            c.code(&["exec", "ID", "sh", "-c", "exit 7"]);
            c.code(&["exec", "ID", "/bin/no-such-program"]);
            c.code(&["exec", "--cwd", "/no-such-dir", "ID", "true"]);
        }),
        ("state_with_annotations", sleep(), Box::new(|c| c["annotations"] = json!({"org.example.team": "parity", "empty": ""})), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.state();
        }),
        ("update_resources", sleep(), cgroup_scenario(json!({"memory": {"limit": 67108864}, "pids": {"limit": 64}})), |c| {
            c.step(&["run", "--detach", "--bundle", "BUNDLE", "ID"]);
            c.step(&["update", "--memory", "100663296", "--pids-limit", "50", "--cpu-shares", "256", "ID"]);
            let out = c.run(&["exec", "ID", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/cpu/cpu.shares"]);
            c.seen.push(format!("after update: {:?}", stdout_of(&out).lines().collect::<Vec<_>>()));
        }),
        ("hooks_in_order_with_their_state", vec!["true"], Box::new(|c| {
            let host = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("(cat; echo) | sed 's/^/{name} /' >> \"$LOG\"; echo \"{name} args $0 $1 env $HOOKVAR\" >> \"$LOG\""), "one", "two"], "env": ["LOG=out/log", "HOOKVAR=v"]});
            // createContainer hooks run in the container's namespaces before pivot_root (the
            // volume is at ROOTFS/out), startContainer hooks in the container (at /out).
            let inside = |name: &str, log: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("(cat; echo) | busybox sed 's/^/{name} /' >> {log}")]});
            c["hooks"] = json!({
                "createRuntime": [host("createRuntime")],
                "prestart": [host("prestart")],
                "createContainer": [inside("createContainer", "ROOTFS_OUT/log")],
                "startContainer": [inside("startContainer", "/out/log")],
                "poststart": [host("poststart")],
                "poststop": [host("poststop")],
            });
            c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/out", "type": "bind", "source": "out", "options": ["rbind", "rw"]}));
        }), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.step(&["start", "ID"]);
            c.wait_stopped();
            c.step(&["delete", "ID"]);
            hook_log(c);
        }),
        ("a_failing_create_runtime_hook", sleep(), Box::new(|c| c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]})), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
        }),
        ("a_failing_start_container_hook", sleep(), Box::new(|c| c["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}]})), |c| {
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.step(&["start", "ID"]);
        }),
        ("a_hook_past_its_timeout", sleep(), Box::new(|c| c["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}]})), |c| {
            let start = Instant::now();
            c.step(&["create", "--bundle", "BUNDLE", "ID"]);
            c.seen.push(format!("create ended within 4 s: {}", start.elapsed() < Duration::from_secs(4)));
        }),
    ]
}

/// Lines of a lifecycle scenario where isola differs from runc 1.1.5 on purpose: (runc's line,
/// isola's line, why).
const DELIBERATE_STEPS: &[(&str, &str, &str)] = &[(
    r#"hook poststart: pid given Some(true), {"bundle":"BUNDLE","status":"created"}"#,
    r#"hook poststart: pid given Some(true), {"bundle":"BUNDLE","status":"running"}"#,
    "poststart hooks run after the user process has started (the runtime spec), so its state says running; runc 1.1 hands them the state from before the start",
)];

/// The hook log of the hooks scenario: each state JSON a hook read, as its hook's name and the
/// fields that do not depend on the runtime; the other lines (args, env) as they are. In the
/// spec's order of the hooks: startContainer (in the container) and poststart (in `start`) run
/// in two processes, and which writes first is a race under runc.
fn hook_log(c: &mut Case) {
    const ORDER: [&str; 6] = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];
    let text = std::fs::read_to_string(c.bundle.join("out/log")).unwrap_or_default();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_by_key(|l| ORDER.iter().position(|h| l.split(' ').next() == Some(h)).unwrap_or(ORDER.len()));
    for line in lines {
        let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
        match serde_json::from_str::<Value>(rest) {
            Ok(Value::Object(mut state)) => {
                let pid = state.remove("pid").map(|p| p.as_i64().is_some_and(|p| p > 0));
                for key in ["id", "created", "ociVersion"] {
                    state.remove(key);
                }
                c.seen.push(format!("hook {name}: pid given {pid:?}, {}", Value::Object(state)));
            }
            _ => c.seen.push(format!("hook {line}")),
        }
    }
}

#[test]
fn lifecycle_state_signals_and_hooks_as_under_runc() {
    let _serial = serial();
    let w = World::new("parity-lifecycle");
    let (runc, isola) = (Rt::runc(&w), Rt::isola(&w));
    let scenarios = lifecycle_scenarios();
    let (mut failures, mut deliberate) = (Vec::new(), Vec::new());
    for (name, argv, edit, script) in &scenarios {
        let mut seen = Vec::new();
        for rt in [&runc, &isola] {
            let bundle = w.bundle(&format!("{}-{name}", rt.name), argv, |c| edit(c));
            std::fs::create_dir_all(bundle.join("out")).unwrap();
            std::fs::create_dir_all(bundle.join("rootfs/out")).unwrap();
            let bundle = std::fs::canonicalize(&bundle).unwrap();
            // `out` in a mount source or a hook's environment is the bundle's out/.
            let config = std::fs::read_to_string(bundle.join("config.json")).unwrap();
            let out = bundle.join("out").display().to_string();
            let config = config
                .replace("\"source\": \"out\"", &format!("\"source\": \"{out}\""))
                .replace("LOG=out/log", &format!("LOG={out}/log"))
                .replace("ROOTFS_OUT", &bundle.join("rootfs/out").display().to_string());
            std::fs::write(bundle.join("config.json"), config).unwrap();
            let mut case = Case { rt, w: &w, id: w.id(&format!("{}-{name}", rt.name)), bundle: bundle.clone(), seen: Vec::new() };
            script(&mut case);
            // The bundle's own path differs by runtime: name it BUNDLE in what was seen.
            seen.push(case.end().into_iter().map(|l| l.replace(&bundle.display().to_string(), "BUNDLE")).collect::<Vec<_>>());
        }
        let (a, b) = (&seen[0], &seen[1]);
        let deliberate_pair = |x: &String, y: &String| DELIBERATE_STEPS.iter().find(|(r, i, _)| x == r && y == i);
        for (x, y) in a.iter().zip(b.iter()) {
            if let Some((_, _, why)) = deliberate_pair(x, y) {
                deliberate.push(format!("{name}: runc {x:?}, isola {y:?} ({why})"));
            }
        }
        let differs = a.len() != b.len() || a.iter().zip(b.iter()).any(|(x, y)| x != y && deliberate_pair(x, y).is_none());
        if !differs {
            continue;
        }
        if a.len() != b.len() {
            let list = |v: &[String]| v.iter().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n");
            failures.push(format!("{name}:\n    runc saw:\n{}\n    isola saw:\n{}", list(a), list(b)));
        } else {
            let lines = a.iter().zip(b.iter()).filter(|(x, y)| x != y && deliberate_pair(x, y).is_none()).map(|(x, y)| format!("    runc:  {x}\n    isola: {y}")).collect::<Vec<_>>();
            failures.push(format!("{name}:\n{}", lines.join("\n")));
        }
    }
    deliberate.sort();
    deliberate.dedup();
    eprintln!("{} lifecycle scenarios compared; deliberate differences:\n  {}", scenarios.len(), deliberate.join("\n  "));
    assert!(failures.is_empty(), "isola differs from runc:\n{}", failures.join("\n"));
}
