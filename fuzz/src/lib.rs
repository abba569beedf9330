//! Shared pieces of isola's fuzz targets: structured (`arbitrary`) builders for the inputs the
//! policy layer reads, and the list of every capability. Nothing here asserts anything; each
//! target states and checks its own properties.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use arbitrary::{Arbitrary, Result, Unstructured};
use oci_spec::runtime::Capability;

/// Every capability oci-spec knows, in kernel order (`isola_policy::caps::number`).
pub const CAP_NAMES: [&str; 41] = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
];

/// The capability with kernel number `n % 41`.
pub fn cap(n: u8) -> Capability {
    let name = CAP_NAMES[usize::from(n) % CAP_NAMES.len()];
    isola_policy::caps::parse(name).unwrap_or(Capability::Chown)
}

/// The set of capabilities whose bits are set in `mask`.
pub fn cap_set(mask: u64) -> HashSet<Capability> {
    (0..41u8).filter(|n| mask & (1 << n) != 0).map(cap).collect()
}

/// A string that is one of `known` most of the time, else anything.
pub fn pick(u: &mut Unstructured<'_>, known: &[&str]) -> Result<String> {
    if u.ratio(4, 5)? {
        Ok((*u.choose(known)?).to_owned())
    } else {
        String::arbitrary(u)
    }
}

/// Annotation keys isola and crun read, and a few near misses.
pub const ANNOTATION_KEYS: &[&str] = &[
    "io.isola.mode",
    "module.wasm.image/variant",
    "run.oci.handler",
    "io.kubernetes.cri.container-type",
    "io.kubernetes.cri-o.ContainerType",
    "io.isola.wasm.max-memory",
    "io.isola.wasm.timeout-ms",
    "io.isola.wasm.fuel",
    "io.isola.wasm.clock-resolution-ns",
    "io.isola.wasm.expose-service-account",
    "io.isola.wasm.host-seccomp",
    "io.isola.wasm.",
    "io.isola.wasm.timeout",
];

/// Values those keys take, and the edges of number parsing.
pub const ANNOTATION_VALUES: &[&str] = &[
    "wasm", "auto", "linux", "compat", "compat-smart", "wasm-smart", "sandbox", "container", "true", "false",
    "0", "1", "65536", "18446744073709551615", "18446744073709551616", "-1", " 42 ", "+5", "1e3", "",
];

/// A map of annotations built mostly from known keys and values.
pub fn annotations(u: &mut Unstructured<'_>) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let k = pick(u, ANNOTATION_KEYS)?;
        let v = pick(u, ANNOTATION_VALUES)?;
        out.insert(k, v);
    }
    Ok(out)
}

/// A node policy built field by field (the TOML path is fuzzed by `node_config`).
pub fn node_config(u: &mut Unstructured<'_>) -> Result<isola_policy::NodeConfig> {
    let mut n = isola_policy::NodeConfig::default();
    if u.arbitrary()? {
        n.allow_privileged = u.ratio(1, 4)?;
        n.default_seccomp = u.ratio(3, 4)?;
        let ceiling: u64 = u.arbitrary()?;
        n.capability_ceiling = (0..41u8).filter(|b| ceiling & (1 << b) != 0).map(|b| format!("CAP_{}", CAP_NAMES[usize::from(b)])).collect();
        n.wasm.max_memory = u.arbitrary()?;
        n.wasm.timeout_ms = u.arbitrary()?;
        n.wasm.fuel = u.arbitrary()?;
        n.wasm.clock_resolution_ns = u.arbitrary()?;
        n.wasm.host_seccomp = u.arbitrary()?;
        n.wasm.compile_memory = u.arbitrary::<u64>()?.max(1);
    }
    Ok(n)
}

/// Host facts: a bounding set, the runtime's oom_score_adj, the resolved rootfs.
pub fn host_facts(u: &mut Unstructured<'_>) -> Result<isola_policy::HostFacts> {
    let bounding = if u.ratio(1, 2)? { cap_set(u64::MAX) } else { cap_set(u.arbitrary()?) };
    Ok(isola_policy::HostFacts {
        bounding,
        oom_score_adj: u.int_in_range(-1000..=1000)?,
        rootfs: PathBuf::from(pick(u, &["/bundle/rootfs", "/", "/run/containerd/x/rootfs", "rootfs"])?),
        entrypoint_is_wasm: u.arbitrary()?,
        systemd_cgroup: u.arbitrary()?,
    })
}

#[cfg(feature = "runtime")]
pub mod wasm;
