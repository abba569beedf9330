//! OCI bundles for the lab: a busybox-static rootfs plus the payload (static binary or .wasm) and
//! a `config.json` from one template per profile, so every OCI runtime gets the same input. It must
//! never bind-mount host paths into the rootfs: the canaries must stay outside every container.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{json, Value};

/// Security profile of the generated config.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// runc-spec-like defaults (root, runc's default caps), plus generous safety limits.
    Plain,
    /// Pod-Security-Standards-restricted-like: uid 65534, read-only rootfs, no caps, limits.
    Hardened,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Plain => "plain",
            Profile::Hardened => "hardened",
        }
    }
}

/// The program a bundle runs.
#[derive(Debug, Clone)]
pub enum Payload<'a> {
    Native(&'a Path),
    Wasm(&'a Path),
}

/// Limits written into the hardened profile (and the safety bounds of the plain one).
pub const HARDENED_MEMORY: i64 = 128 << 20;
pub const HARDENED_PIDS: i64 = 64;
/// Half a core (cgroup CPU quota / period, microseconds).
pub const HARDENED_CPU_QUOTA: i64 = 50_000;
pub const HARDENED_CPU_PERIOD: i64 = 100_000;
pub const PLAIN_SAFETY_MEMORY: i64 = 2 << 30;
pub const PLAIN_SAFETY_PIDS: i64 = 1024;

const BUSYBOX_LINKS: &[&str] = &["sh", "cat", "ls", "echo", "sleep", "true", "id", "env", "ps"];

/// Where the payload lands in the rootfs.
pub const NATIVE_PATH: &str = "/payload";
pub const WASM_PATH: &str = "/payload.wasm";

/// Creates `dir/rootfs` and `dir/config.json`. `shadow_secret` goes into the image's root-only
/// `/etc/shadow` (an in-image canary for root-only-file scenarios).
pub fn create(dir: &Path, profile: Profile, payload: Payload, args: &[String], shadow_secret: &str, timeout_ms: u64) -> Result<PathBuf> {
    let rootfs = dir.join("rootfs");
    for sub in ["bin", "etc", "tmp", "proc", "dev", "sys", "run"] {
        std::fs::create_dir_all(rootfs.join(sub)).with_context(|| format!("create {}", rootfs.join(sub).display()))?;
    }
    set_mode(&rootfs.join("tmp"), 0o1777)?;
    let busybox = find_busybox()?;
    link_or_copy(&busybox, &rootfs.join("bin/busybox"))?;
    for name in BUSYBOX_LINKS {
        let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(name));
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n")?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    std::fs::write(rootfs.join("etc/shadow"), format!("root:$6${shadow_secret}:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n"))?;
    set_mode(&rootfs.join("etc/shadow"), 0o600)?;
    let (inside, wasm) = match payload {
        Payload::Native(p) => {
            link_or_copy(p, &rootfs.join(&NATIVE_PATH[1..]))?;
            (NATIVE_PATH, false)
        }
        Payload::Wasm(p) => {
            link_or_copy(p, &rootfs.join(&WASM_PATH[1..]))?;
            (WASM_PATH, true)
        }
    };
    let mut argv = vec![inside.to_string()];
    argv.extend(args.iter().cloned());
    let config = config_json(profile, &argv, wasm, timeout_ms);
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config)?)?;
    Ok(dir.to_path_buf())
}

/// The config.json of one profile (pure, tested).
pub fn config_json(profile: Profile, args: &[String], wasm: bool, timeout_ms: u64) -> Value {
    let default_caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let hardened = profile == Profile::Hardened;
    let caps = if hardened { json!([]) } else { default_caps };
    let (uid, memory, pids) = if hardened {
        (65534, HARDENED_MEMORY, HARDENED_PIDS)
    } else {
        (0, PLAIN_SAFETY_MEMORY, PLAIN_SAFETY_PIDS)
    };
    let mut resources = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": memory},
        "pids": {"limit": pids}
    });
    if hardened {
        resources["cpu"] = json!({"quota": HARDENED_CPU_QUOTA, "period": HARDENED_CPU_PERIOD});
    }
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
    ];
    if hardened {
        mounts.push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=16m"]}));
    }
    let mut rlimits = vec![json!({"type": "RLIMIT_NOFILE", "hard": if hardened { 256 } else { 1024 }, "soft": if hardened { 256 } else { 1024 }})];
    if hardened && !wasm && timeout_ms > 0 {
        // The scenario's bound for a container, as the kernel can enforce it: the CPU seconds the
        // hardened quota allows within that wall time, then SIGKILL (soft = hard: a container's
        // PID 1 ignores SIGXCPU). The wasm sandbox gets the same bound as `io.isola.wasm.timeout-ms`.
        let secs = (timeout_ms * HARDENED_CPU_QUOTA as u64 / HARDENED_CPU_PERIOD as u64 / 1000).max(1);
        rlimits.push(json!({"type": "RLIMIT_CPU", "soft": secs, "hard": secs}));
    }
    let mut annotations = json!({"org.isola.lab.profile": profile.as_str()});
    if wasm {
        annotations["module.wasm.image/variant"] = json!("compat");
        if hardened && timeout_ms > 0 {
            annotations["io.isola.wasm.timeout-ms"] = json!(timeout_ms.to_string());
        }
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": uid, "gid": uid},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": rlimits,
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": hardened},
        "hostname": "isola-lab",
        "mounts": mounts,
        "annotations": annotations,
        "linux": {
            "resources": resources,
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

fn find_busybox() -> Result<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .context("busybox not found: apt-get install busybox-static")
}

/// Hard-links (cheap, same filesystem) or copies `src` to `dst`, keeping it executable.
pub fn link_or_copy(src: &Path, dst: &Path) -> Result<()> {
    let _ = std::fs::remove_file(dst);
    if std::fs::hard_link(src, dst).is_err() {
        std::fs::copy(src, dst).with_context(|| format!("copy {} to {}", src.display(), dst.display()))?;
    }
    Ok(())
}

fn set_mode(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).with_context(|| format!("chmod {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Vec<String> {
        vec![NATIVE_PATH.to_string(), "/var/tmp/x/canary".to_string()]
    }

    #[test]
    fn plain_profile_is_runc_spec_like() {
        let c = config_json(Profile::Plain, &args(), false, 5000);
        assert_eq!(c["process"]["user"]["uid"], 0);
        assert_eq!(c["root"]["readonly"], false);
        assert_eq!(c["process"]["capabilities"]["bounding"].as_array().unwrap().len(), 3);
        assert_eq!(c["process"]["args"][1], "/var/tmp/x/canary");
        assert!(c["annotations"].get("module.wasm.image/variant").is_none());
        assert!(c["linux"].get("seccomp").is_none(), "no seccomp in the spec: isola adds its own");
        let ns: Vec<&str> = c["linux"]["namespaces"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
        assert!(ns.contains(&"network") && ns.contains(&"pid") && ns.contains(&"mount"));
    }

    #[test]
    fn hardened_profile_is_restricted_like() {
        let c = config_json(Profile::Hardened, &args(), false, 5000);
        assert_eq!(c["process"]["user"]["uid"], 65534);
        assert_eq!(c["process"]["user"]["gid"], 65534);
        assert_eq!(c["root"]["readonly"], true);
        assert_eq!(c["process"]["noNewPrivileges"], true);
        for set in ["bounding", "effective", "permitted", "ambient"] {
            assert!(c["process"]["capabilities"][set].as_array().unwrap().is_empty(), "{set} must be empty");
        }
        assert_eq!(c["linux"]["resources"]["memory"]["limit"], HARDENED_MEMORY);
        assert_eq!(c["linux"]["resources"]["pids"]["limit"], HARDENED_PIDS);
        assert!(c["linux"]["resources"]["cpu"]["quota"].as_i64().unwrap() > 0);
        // 5 s of wall time at half a core: killed after 2 CPU-seconds.
        let cpu = c["process"]["rlimits"].as_array().unwrap().iter().find(|r| r["type"] == "RLIMIT_CPU").expect("RLIMIT_CPU");
        assert_eq!((cpu["soft"].as_u64(), cpu["hard"].as_u64()), (Some(2), Some(2)));
        let plain = config_json(Profile::Plain, &args(), false, 5000);
        assert!(!plain["process"]["rlimits"].as_array().unwrap().iter().any(|r| r["type"] == "RLIMIT_CPU"));
        let wasm = config_json(Profile::Hardened, &args(), true, 5000);
        assert!(!wasm["process"]["rlimits"].as_array().unwrap().iter().any(|r| r["type"] == "RLIMIT_CPU"), "wasm has its own timeout");
    }

    #[test]
    fn wasm_bundle_is_annotated_for_isola() {
        let c = config_json(Profile::Hardened, &[WASM_PATH.to_string()], true, 3000);
        assert_eq!(c["annotations"]["module.wasm.image/variant"], "compat");
        assert_eq!(c["annotations"]["io.isola.wasm.timeout-ms"], "3000");
    }

    #[test]
    fn bundle_on_disk_parses_and_holds_the_payload() {
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("prog");
        std::fs::write(&prog, b"\x7fELF").unwrap();
        let b = dir.path().join("b");
        create(&b, Profile::Plain, Payload::Native(&prog), &["a".into()], "s3cret", 1000).unwrap();
        let c: Value = serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
        assert_eq!(c["process"]["args"], json!([NATIVE_PATH, "a"]));
        assert!(b.join("rootfs/payload").exists());
        assert!(b.join("rootfs/bin/busybox").exists());
    }
}
