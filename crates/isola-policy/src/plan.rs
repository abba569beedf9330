//! From an OCI spec to the spec isola will actually run: refuse what untrusted code must never
//! get, clamp what can be clamped, and record every clamp so the caller can log it.
//! Pure: host facts (bounding set, oom_score_adj, resolved rootfs) arrive as [`HostFacts`].

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, Capability, LinuxCapabilities, LinuxNamespaceType, LinuxResources, Process, Spec,
};

use crate::mode::{self, Mode, WasmSelection};
use crate::wasm::{plan_wasm, WasmPlan, SERVICE_ACCOUNT_DIRS};
use crate::node::NodeConfig;
use crate::{caps, seccomp};

/// What policy could not accept. Each variant's text names the field and what to do.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PolicyError {
    #[error("privileged container refused: {0} (set allow-privileged = true in the node policy to permit it)")]
    Privileged(String),
    #[error("capability {0} is not in this host's bounding set, so no container can hold it; remove it from the spec or the node's capability-ceiling")]
    MissingCapability(String),
    #[error("invalid spec: {0}")]
    Invalid(String),
}

/// One change policy made to a spec; logged by the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clamp(pub String);

impl fmt::Display for Clamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Facts about the host that policy needs, read by the OS layer.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// The runtime's own capability bounding set.
    pub bounding: HashSet<Capability>,
    /// The runtime's own oom_score_adj: lowering below it needs CAP_SYS_RESOURCE.
    pub oom_score_adj: i32,
    /// The rootfs after resolving the bundle-relative path and every symlink.
    pub rootfs: PathBuf,
    /// Whether `process.args[0]` inside the rootfs starts with `\0asm` (read only when the
    /// annotations ask for a `-smart` selection).
    pub entrypoint_is_wasm: bool,
    /// Whether the runtime manages cgroups through systemd (`--systemd-cgroup`): the default
    /// cgroups path then takes systemd's `slice:prefix:name` form.
    pub systemd_cgroup: bool,
}

/// A validated container: the spec to run, the layer to run it in, and what was changed.
#[derive(Debug, Clone)]
pub struct Plan {
    pub spec: Spec,
    pub selection: WasmSelection,
    /// The layer it runs in.
    pub mode: Mode,
    /// Wasm sandbox settings when `mode` is wasm.
    pub wasm: Option<WasmPlan>,
    pub clamps: Vec<Clamp>,
}

/// Default cgroup path for a container whose spec gives none (cgroupfs driver).
pub fn default_cgroups_path(id: &str) -> PathBuf {
    PathBuf::from(format!("/isola/{id}"))
}

/// Default cgroups path under the systemd driver, in its `slice:prefix:name` form: the scope
/// `isola-ID.scope` in `system.slice`, as runc's `system.slice:runc:ID`.
pub fn default_systemd_cgroups_path(id: &str) -> PathBuf {
    PathBuf::from(format!("system.slice:isola:{id}"))
}

/// Default cgroups path for a container whose spec gives none, in the form of the runtime's
/// cgroup driver.
pub fn default_cgroups_path_for(id: &str, systemd_cgroup: bool) -> PathBuf {
    if systemd_cgroup { default_systemd_cgroups_path(id) } else { default_cgroups_path(id) }
}

/// Validates and hardens a container spec.
pub fn plan_container(
    id: &str,
    mut spec: Spec,
    bundle: &Path,
    node: &NodeConfig,
    host: &HostFacts,
) -> Result<Plan, PolicyError> {
    if !spec.version().starts_with("1.") {
        return Err(PolicyError::Invalid(format!(
            "ociVersion {:?} is not supported (expected 1.x)",
            spec.version()
        )));
    }
    if spec.process().is_none() {
        return Err(PolicyError::Invalid("the spec has no process to run".into()));
    }
    if spec.root().is_none() {
        return Err(PolicyError::Invalid("the spec has no root (rootfs path)".into()));
    }
    if host.rootfs == Path::new("/") {
        return Err(PolicyError::Invalid(
            "root.path resolves to the host's / (a rootfs that is, or links to, the host root)".into(),
        ));
    }
    // A relative root.path is the bundle's: one that resolves elsewhere (a symlink or `..` in
    // the bundle) would make the container layer create its mount points in a host directory.
    let root_path = spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default();
    if root_path.is_relative() && !host.rootfs.starts_with(bundle) {
        return Err(PolicyError::Invalid(format!(
            "root.path {:?} resolves to {:?} outside the bundle {:?} (through a symlink or '..'); give an absolute root.path if that is meant",
            root_path,
            host.rootfs,
            bundle
        )));
    }
    let selection = mode::select(&spec.annotations().clone().unwrap_or_default())
        .map_err(PolicyError::Invalid)?;
    if spec.linux().is_none() {
        return Err(PolicyError::Invalid("the spec has no linux section".into()));
    }

    validate_shape(&spec)?;

    let mut clamps = Vec::new();
    if !node.allow_privileged {
        refuse_privileged(&spec)?;
    }

    // Root path: absolute and resolved, so the state dir copy of the spec stands alone.
    if let Some(root) = spec.root_mut() {
        root.set_path(host.rootfs.clone());
    }
    absolutize_mount_sources(&mut spec, bundle);

    if let Some(process) = spec.process_mut() {
        clamp_process(process, node, host, &mut clamps)?;
    }

    let linux = spec.linux_mut().as_mut().expect("checked above");
    if linux.cgroups_path().is_none() {
        linux.set_cgroups_path(Some(default_cgroups_path_for(id, host.systemd_cgroup)));
    }
    // libcontainer writes a cgroup's device rules (deny all, then the defaults and the spec's)
    // only when the spec has `linux.resources`: without it every host device stayed allowed.
    if linux.resources().is_none() {
        linux.set_resources(Some(LinuxResources::default()));
    }
    let mode = selection.resolve(|| host.entrypoint_is_wasm);
    if node.default_seccomp && linux.seccomp().is_none() {
        linux.set_seccomp(Some(if mode == Mode::Wasm { seccomp::wasm_container_profile() } else { seccomp::default_profile() }));
        clamps.push(Clamp("seccomp: the spec has none; applied isola's built-in profile".into()));
    }
    // Masking needs a mount namespace of the container's own (runc and libcontainer refuse
    // masked paths without one); a spec the node lets run in the host's gets none added.
    let private_mounts = linux.namespaces().iter().flatten().any(|n| n.typ() == LinuxNamespaceType::Mount);
    if private_mounts && linux.masked_paths().as_ref().is_none_or(|p| p.is_empty()) {
        linux.set_masked_paths(Some(oci_spec::runtime::get_default_maskedpaths()));
        clamps.push(Clamp("maskedPaths: the spec has none; applied the default list".into()));
    }
    if private_mounts && linux.readonly_paths().as_ref().is_none_or(|p| p.is_empty()) {
        linux.set_readonly_paths(Some(oci_spec::runtime::get_default_readonly_paths()));
        clamps.push(Clamp("readonlyPaths: the spec has none; applied the default list".into()));
    }
    let wasm = if mode == Mode::Wasm {
        let new_mount_ns = linux.namespaces().iter().flatten().any(|n| n.typ() == LinuxNamespaceType::Mount && n.path().is_none());
        if !new_mount_ns {
            return Err(PolicyError::Invalid(
                "a wasm container needs a new mount namespace of its own (the guest's root is built in it)".into(),
            ));
        }
        let annotations = spec.annotations().clone().unwrap_or_default();
        let memory_limit = spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.memory().as_ref())
            .and_then(|m| m.limit())
            .and_then(|l| u64::try_from(l).ok());
        let (plan, wasm_clamps) = plan_wasm(&annotations, memory_limit, node).map_err(PolicyError::Invalid)?;
        clamps.extend(wasm_clamps.into_iter().map(Clamp));
        if !plan.expose_service_account {
            hide_service_account(&mut spec, &mut clamps);
        }
        Some(plan)
    } else {
        None
    };
    Ok(Plan { spec, selection, mode, wasm, clamps })
}

/// Drops the service-account token mount: a wasm guest does not get it unless asked for.
fn hide_service_account(spec: &mut Spec, clamps: &mut Vec<Clamp>) {
    if let Some(mounts) = spec.mounts_mut() {
        let before = mounts.len();
        mounts.retain(|m| !SERVICE_ACCOUNT_DIRS.iter().any(|d| m.destination().starts_with(d)));
        if mounts.len() != before {
            clamps.push(Clamp("wasm: service-account token mount hidden from the guest".into()));
        }
    }
}

/// Clamps the process of an `exec` (same rules as the container's own process).
pub fn plan_exec_process(
    mut process: Process,
    node: &NodeConfig,
    host: &HostFacts,
) -> Result<(Process, Vec<Clamp>), PolicyError> {
    let mut clamps = Vec::new();
    clamp_process(&mut process, node, host, &mut clamps)?;
    Ok((process, clamps))
}

/// What the OCI spec requires and a hostile spec may break: something to run, an absolute
/// working directory, and absolute paths without `..` for mount destinations, masked and
/// read-only paths (a `..` there has no legitimate use and only serves to climb out).
fn validate_shape(spec: &Spec) -> Result<(), PolicyError> {
    let invalid = |m: String| Err(PolicyError::Invalid(m));
    // The kernel's CFS quota is at least 1 ms: cgroupfs refuses a smaller one with EINVAL, but
    // systemd's CPUQuota accepts and rounds it, so it is refused here for both drivers alike.
    let cpu = spec.linux().as_ref().and_then(|l| l.resources().as_ref()).and_then(|r| r.cpu().as_ref());
    if let Some(quota) = cpu.and_then(|c| c.quota()).filter(|q| (1..1000).contains(q)) {
        return invalid(format!("linux.resources.cpu.quota {quota} is below the kernel's minimum of 1000 microseconds"));
    }
    if let Some(p) = spec.process() {
        match p.args().as_deref() {
            None | Some([]) => return invalid("process.args is empty: there is nothing to run".into()),
            Some([first, ..]) if first.is_empty() => return invalid("process.args[0] is an empty string".into()),
            _ => {}
        }
        if !p.cwd().is_absolute() {
            return invalid(format!("process.cwd {:?} is not an absolute path", p.cwd()));
        }
        // execve's limits (fs/exec.c): one string at most MAX_ARG_STRLEN, and strings plus
        // pointers at most a quarter of the stack limit (8 MiB unless the spec's RLIMIT_STACK
        // says otherwise), capped at 6 MiB. Past them the kernel says only E2BIG.
        let strings: Vec<&String> = p.args().iter().flatten().chain(p.env().iter().flatten()).collect();
        if let Some(long) = strings.iter().find(|s| s.len() >= MAX_ARG_STRLEN) {
            return invalid(format!(
                "a process.args or process.env entry of {} bytes (starting {:?}) is above the kernel's limit of {MAX_ARG_STRLEN} bytes per string",
                long.len(),
                long.chars().take(16).collect::<String>()
            ));
        }
        let total: usize = strings.iter().map(|s| s.len() + 1 + std::mem::size_of::<usize>()).sum();
        let stack = p
            .rlimits()
            .iter()
            .flatten()
            .find(|r| r.typ() == oci_spec::runtime::PosixRlimitType::RlimitStack)
            .map_or(8 << 20, |r| r.soft());
        let limit = (stack / 4).min(6 << 20) as usize;
        if total > limit {
            return invalid(format!(
                "process.args and process.env hold {} entries, {total} bytes: above the kernel's limit of {limit} bytes for a new program",
                strings.len()
            ));
        }
        if let Some(adj) = p.oom_score_adj().filter(|a| !(-1000..=1000).contains(a)) {
            return invalid(format!("process.oomScoreAdj {adj} is outside -1000..=1000"));
        }
    }
    let clean = |p: &Path| p.is_absolute() && !p.components().any(|c| c == std::path::Component::ParentDir);
    for m in spec.mounts().iter().flatten() {
        if !clean(m.destination()) {
            return invalid(format!("mount destination {:?} must be an absolute path without '..'", m.destination()));
        }
    }
    if let Some(l) = spec.linux() {
        for (what, paths) in [("maskedPaths", l.masked_paths()), ("readonlyPaths", l.readonly_paths())] {
            if let Some(bad) = paths.iter().flatten().find(|p| !clean(Path::new(p))) {
                return invalid(format!("{what} entry {bad:?} must be an absolute path without '..'"));
            }
        }
        let has_ns = |t: LinuxNamespaceType| l.namespaces().iter().flatten().any(|n| n.typ() == t);
        let mut keys: Vec<&String> = l.sysctl().iter().flat_map(|m| m.keys()).collect();
        keys.sort();
        for key in keys {
            let needs = sysctl_namespace(key);
            match needs {
                Some(ns) if has_ns(ns) => {}
                Some(ns) => {
                    return invalid(format!(
                        "sysctl {key:?} needs its own {} namespace, which the spec lacks: it would change the host's",
                        format!("{ns:?}").to_lowercase()
                    ))
                }
                None => return invalid(format!("sysctl {key:?} is not namespaced: setting it would change the host kernel")),
            }
        }
    }
    Ok(())
}

/// Longest single argument or environment string execve accepts (32 pages).
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// The namespace a sysctl belongs to (runc's list), or None when it is host-wide.
fn sysctl_namespace(key: &str) -> Option<LinuxNamespaceType> {
    const IPC: &[&str] = &["kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];
    if IPC.contains(&key) || key.starts_with("kernel.msg") || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

fn refuse_privileged(spec: &Spec) -> Result<(), PolicyError> {
    if let Some(c) = spec.process().as_ref().and_then(|p| p.capabilities().clone()) {
        if cap_sets(&c).iter().any(|set| set.contains(&Capability::SysAdmin)) {
            return Err(PolicyError::Privileged("the spec asks for CAP_SYS_ADMIN".into()));
        }
    }
    let linux = spec.linux().as_ref();
    let devices = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
        .unwrap_or_default();
    if devices.iter().any(|d| {
        d.allow()
            && d.major().is_none()
            && d.minor().is_none()
            && d.typ().is_none_or(|t| t == oci_spec::runtime::LinuxDeviceType::A)
    }) {
        return Err(PolicyError::Privileged("the spec allows access to every device".into()));
    }
    let has_mount_ns = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Mount && n.path().is_none()));
    if !has_mount_ns {
        return Err(PolicyError::Privileged(
            "the spec has no new mount namespace, so the container would see the host's mounts".into(),
        ));
    }
    Ok(())
}

fn cap_sets(c: &LinuxCapabilities) -> Vec<Capabilities> {
    [c.bounding(), c.effective(), c.inheritable(), c.permitted(), c.ambient()]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

fn clamp_process(
    process: &mut Process,
    node: &NodeConfig,
    host: &HostFacts,
    clamps: &mut Vec<Clamp>,
) -> Result<(), PolicyError> {
    if process.no_new_privileges() != Some(true) {
        process.set_no_new_privileges(Some(true));
        clamps.push(Clamp("noNewPrivileges: forced on".into()));
    }
    if let Some(adj) = process.oom_score_adj() {
        if adj < host.oom_score_adj && !host.bounding.contains(&Capability::SysResource) {
            process.set_oom_score_adj(Some(host.oom_score_adj));
            clamps.push(Clamp(format!(
                "oomScoreAdj: {adj} needs CAP_SYS_RESOURCE, which this host lacks; raised to {}",
                host.oom_score_adj
            )));
        }
    }
    // A set the spec leaves out is empty, as runc makes it: libcontainer would leave it as the
    // runtime's own (a spec without `capabilities` ran with every capability of the host,
    // CAP_SYS_ADMIN included, and one with only a bounding set kept root's permitted set).
    let given = process.capabilities().clone();
    let set_of = |pick: fn(&LinuxCapabilities) -> &Option<Capabilities>| {
        Some(given.as_ref().and_then(|g| pick(g).clone()).unwrap_or_default())
    };
    let mut c = LinuxCapabilities::default();
    c.set_bounding(set_of(|g| g.bounding()));
    c.set_effective(set_of(|g| g.effective()));
    c.set_inheritable(set_of(|g| g.inheritable()));
    c.set_permitted(set_of(|g| g.permitted()));
    c.set_ambient(set_of(|g| g.ambient()));
    let ceiling: HashSet<Capability> = if node.allow_privileged {
        // An operator who allows privileged containers lifts the ceiling too.
        cap_sets(&c).into_iter().flatten().collect()
    } else {
        // CAP_SYS_ADMIN is privileged whatever the ceiling lists: `create` refuses it, and an
        // `exec` must not get it either (found by fuzz/fuzz_targets/plan.rs).
        node.capability_ceiling
            .iter()
            .filter_map(|s| caps::parse(s).ok())
            .filter(|c| *c != Capability::SysAdmin)
            .collect()
    };
    let mut dropped: Vec<String> = Vec::new();
    let mut clamp_set = |set: Option<&Capabilities>| -> Option<Capabilities> {
        set.map(|s| {
            s.iter()
                .filter(|cap| {
                    let keep = ceiling.contains(cap);
                    if !keep {
                        dropped.push(caps::name(**cap));
                    }
                    keep
                })
                .copied()
                .collect()
        })
    };
    let bounding = clamp_set(c.bounding().as_ref());
    let effective = clamp_set(c.effective().as_ref());
    let inheritable = clamp_set(c.inheritable().as_ref());
    let permitted = clamp_set(c.permitted().as_ref());
    let ambient = clamp_set(c.ambient().as_ref());
    c.set_bounding(bounding);
    c.set_effective(effective);
    c.set_inheritable(inheritable);
    c.set_permitted(permitted);
    c.set_ambient(ambient);
    dropped.sort();
    dropped.dedup();
    if !dropped.is_empty() {
        clamps.push(Clamp(format!("capabilities: dropped {} (above the node's ceiling)", dropped.join(", "))));
    }
    let mut missing: Vec<String> = cap_sets(&c)
        .into_iter()
        .flatten()
        .filter(|cap| !host.bounding.contains(cap))
        .map(caps::name)
        .collect();
    missing.sort();
    if let Some(first) = missing.first() {
        return Err(PolicyError::MissingCapability(first.clone()));
    }
    process.set_capabilities(Some(c));
    Ok(())
}

fn absolutize_mount_sources(spec: &mut Spec, bundle: &Path) {
    if let Some(mounts) = spec.mounts_mut() {
        for m in mounts.iter_mut() {
            let is_bind = m.typ().as_deref() == Some("bind")
                || m.options().as_ref().is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"));
            if let Some(src) = m.source().clone() {
                if is_bind && src.is_relative() {
                    m.set_source(Some(bundle.join(src)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

    fn host() -> HostFacts {
        let all: HashSet<Capability> = (0..=40)
            .filter_map(|n| {
                crate::caps::DEFAULT_CEILING.iter().map(|s| crate::caps::parse(s).unwrap()).find(|c| crate::caps::number(*c) == n)
            })
            .chain([Capability::SysAdmin, Capability::NetRaw, Capability::SysPtrace])
            .collect();
        HostFacts { bounding: all, oom_score_adj: 0, rootfs: PathBuf::from("/bundle/rootfs"), entrypoint_is_wasm: false, systemd_cgroup: false }
    }

    fn spec() -> Spec {
        Spec::default()
    }

    fn caps_of(p: &Plan) -> LinuxCapabilities {
        p.spec.process().as_ref().unwrap().capabilities().clone().unwrap()
    }

    #[test]
    fn the_default_cgroups_path_takes_the_form_of_the_cgroup_driver() {
        let systemd = HostFacts { systemd_cgroup: true, ..host() };
        let p = plan_container("c1", spec(), Path::new("/bundle"), &NodeConfig::default(), &systemd).unwrap();
        assert_eq!(p.spec.linux().as_ref().unwrap().cgroups_path().as_deref(), Some(Path::new("system.slice:isola:c1")));
        let mut given = spec();
        given.linux_mut().as_mut().unwrap().set_cgroups_path(Some("kubepods.slice:cri:c1".into()));
        let p = plan_container("c1", given, Path::new("/bundle"), &NodeConfig::default(), &systemd).unwrap();
        assert_eq!(p.spec.linux().as_ref().unwrap().cgroups_path().as_deref(), Some(Path::new("kubepods.slice:cri:c1")));
    }

    #[test]
    fn default_spec_is_hardened_and_every_clamp_recorded() {
        let mut s = spec();
        s.process_mut().as_mut().unwrap().set_no_new_privileges(Some(false));
        let p = plan_container("c1", s, Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap();
        let linux = p.spec.linux().as_ref().unwrap();
        assert!(linux.seccomp().is_some());
        assert_eq!(linux.cgroups_path().as_deref(), Some(Path::new("/isola/c1")));
        assert_eq!(p.spec.process().as_ref().unwrap().no_new_privileges(), Some(true));
        assert_eq!(p.spec.root().as_ref().unwrap().path(), Path::new("/bundle/rootfs"));
        assert!(p.clamps.iter().any(|c| c.0.contains("noNewPrivileges")));
        assert!(p.clamps.iter().any(|c| c.0.contains("seccomp")));
        assert_eq!(p.selection, WasmSelection::Linux);
        assert_eq!(p.mode, Mode::Linux);
        assert!(p.wasm.is_none());
    }

    #[test]
    fn wasm_mode_plans_the_sandbox_and_hides_the_token() {
        let mut s = spec();
        s.set_annotations(Some([("module.wasm.image/variant".to_string(), "compat".to_string())].into()));
        let mut m = oci_spec::runtime::Mount::default();
        m.set_destination("/var/run/secrets/kubernetes.io/serviceaccount".into());
        m.set_source(Some("/host/token".into()));
        s.set_mounts(Some(vec![m]));
        let p = plan_container("c", s.clone(), Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap();
        assert_eq!(p.mode, Mode::Wasm);
        assert!(p.wasm.is_some());
        assert!(p.spec.mounts().as_ref().unwrap().is_empty());

        let mut annotations = s.annotations().clone().unwrap();
        annotations.insert("io.isola.wasm.expose-service-account".into(), "true".into());
        s.set_annotations(Some(annotations));
        let p = plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap();
        assert_eq!(p.spec.mounts().as_ref().unwrap().len(), 1);
    }

    #[test]
    fn smart_selection_follows_the_entrypoint() {
        let mut s = spec();
        s.set_annotations(Some([("run.oci.handler".to_string(), "wasm-smart".to_string())].into()));
        let p = plan_container("c", s.clone(), Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap();
        assert_eq!(p.mode, Mode::Linux);
        let mut h = host();
        h.entrypoint_is_wasm = true;
        let p = plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &h).unwrap();
        assert_eq!(p.mode, Mode::Wasm);
    }

    #[test]
    fn the_built_in_profile_of_a_wasm_container_covers_only_the_hosts_own_architecture() {
        use oci_spec::runtime::Arch;
        let arches = |annotations: Option<std::collections::HashMap<String, String>>| {
            let mut s = spec();
            s.set_annotations(annotations);
            let p = plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap();
            p.spec.linux().as_ref().unwrap().seccomp().as_ref().unwrap().architectures().clone().unwrap()
        };
        let wasm = [("module.wasm.image/variant".to_string(), "compat".to_string())].into();
        assert_eq!(arches(Some(wasm)), vec![Arch::ScmpArchX86_64]);
        // A Linux container may run 32-bit binaries, as under runc's default profile.
        assert_eq!(arches(None), vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]);
    }

    #[test]
    fn a_spec_seccomp_profile_is_kept() {
        let mut s = spec();
        let mut own = oci_spec::runtime::LinuxSeccomp::default();
        own.set_default_action(oci_spec::runtime::LinuxSeccompAction::ScmpActLog);
        s.linux_mut().as_mut().unwrap().set_seccomp(Some(own.clone()));
        let p = plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap();
        assert_eq!(p.spec.linux().as_ref().unwrap().seccomp().as_ref(), Some(&own));
    }

    #[test]
    fn capabilities_above_the_ceiling_are_dropped_and_logged() {
        let mut s = spec();
        let mut c = LinuxCapabilities::default();
        let set: Capabilities = [Capability::Kill, Capability::NetRaw, Capability::SysPtrace].into();
        c.set_bounding(Some(set.clone()));
        c.set_effective(Some(set));
        s.process_mut().as_mut().unwrap().set_capabilities(Some(c));
        let p = plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap();
        let c = caps_of(&p);
        assert_eq!(c.bounding().as_ref().unwrap(), &Capabilities::from([Capability::Kill]));
        assert!(p.clamps.iter().any(|c| c.0.contains("CAP_NET_RAW") && c.0.contains("CAP_SYS_PTRACE")));
    }

    #[test]
    fn a_capability_the_host_lacks_is_one_clear_error() {
        let mut node = NodeConfig::default();
        node.capability_ceiling.push("CAP_SYS_RESOURCE".into());
        let mut s = spec();
        let mut c = LinuxCapabilities::default();
        c.set_bounding(Some([Capability::SysResource].into()));
        s.process_mut().as_mut().unwrap().set_capabilities(Some(c));
        let err = plan_container("c", s, Path::new("/bundle"), &node, &host()).unwrap_err();
        assert_eq!(err, PolicyError::MissingCapability("CAP_SYS_RESOURCE".into()));
        assert!(err.to_string().contains("bounding set"));
    }

    #[test]
    fn privileged_specs_are_refused_unless_the_node_allows_them() {
        let mut s = spec();
        let mut c = LinuxCapabilities::default();
        c.set_effective(Some([Capability::SysAdmin].into()));
        s.process_mut().as_mut().unwrap().set_capabilities(Some(c));
        let err = plan_container("c", s.clone(), Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap_err();
        assert!(matches!(err, PolicyError::Privileged(m) if m.contains("CAP_SYS_ADMIN")));
        let node = NodeConfig { allow_privileged: true, ..NodeConfig::default() };
        let p = plan_container("c", s, Path::new("/bundle"), &node, &host()).unwrap();
        assert!(caps_of(&p).effective().as_ref().unwrap().contains(&Capability::SysAdmin));
    }

    #[test]
    fn all_devices_and_host_mount_namespace_are_privileged() {
        let mut s = spec();
        let mut dev = LinuxDeviceCgroup::default();
        dev.set_allow(true);
        dev.set_typ(Some(LinuxDeviceType::A));
        dev.set_access(Some("rwm".into()));
        let mut r = LinuxResources::default();
        r.set_devices(Some(vec![dev]));
        s.linux_mut().as_mut().unwrap().set_resources(Some(r));
        assert!(matches!(
            plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()),
            Err(PolicyError::Privileged(m)) if m.contains("every device")
        ));

        let mut s = spec();
        let linux = s.linux_mut().as_mut().unwrap();
        let ns: Vec<_> = linux.namespaces().clone().unwrap().into_iter().filter(|n| n.typ() != LinuxNamespaceType::Mount).collect();
        linux.set_namespaces(Some(ns));
        assert!(matches!(
            plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()),
            Err(PolicyError::Privileged(m)) if m.contains("mount namespace")
        ));
    }

    #[test]
    fn capability_sets_the_spec_leaves_out_are_empty_not_the_runtimes() {
        let mut s = spec();
        s.process_mut().as_mut().unwrap().set_capabilities(None);
        let plan = plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap();
        let c = plan.spec.process().as_ref().unwrap().capabilities().clone().expect("a capabilities object");
        for set in [c.bounding(), c.effective(), c.inheritable(), c.permitted(), c.ambient()] {
            assert_eq!(set.as_ref().map(|s| s.len()), Some(0), "{c:?}");
        }
        let mut s = spec();
        let mut only_bounding = LinuxCapabilities::default();
        only_bounding.set_bounding(Some([Capability::Kill].into()));
        for unset in [LinuxCapabilities::set_effective, LinuxCapabilities::set_permitted, LinuxCapabilities::set_inheritable, LinuxCapabilities::set_ambient] {
            unset(&mut only_bounding, None);
        }
        s.process_mut().as_mut().unwrap().set_capabilities(Some(only_bounding));
        let plan = plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap();
        let c = plan.spec.process().as_ref().unwrap().capabilities().clone().unwrap();
        assert_eq!(c.bounding().as_ref().unwrap().len(), 1);
        assert_eq!(c.effective().as_ref().map(|s| s.len()), Some(0));
        assert_eq!(c.permitted().as_ref().map(|s| s.len()), Some(0));
    }

    #[test]
    fn masked_and_read_only_paths_are_added_only_with_a_mount_namespace() {
        let node = NodeConfig { allow_privileged: true, ..NodeConfig::default() };
        let mut s = spec();
        let linux = s.linux_mut().as_mut().unwrap();
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
        let with = plan_container("c", s.clone(), Path::new("/bundle"), &node, &host()).unwrap();
        let l = with.spec.linux().as_ref().unwrap();
        assert!(l.masked_paths().as_ref().is_some_and(|p| p.contains(&"/proc/kcore".to_string())));
        assert!(l.readonly_paths().as_ref().is_some_and(|p| !p.is_empty()));

        let linux = s.linux_mut().as_mut().unwrap();
        let ns: Vec<_> = linux.namespaces().clone().unwrap().into_iter().filter(|n| n.typ() != LinuxNamespaceType::Mount).collect();
        linux.set_namespaces(Some(ns));
        let without = plan_container("c", s, Path::new("/bundle"), &node, &host()).unwrap();
        let l = without.spec.linux().as_ref().unwrap();
        assert!(l.masked_paths().as_ref().is_none_or(|p| p.is_empty()), "{:?}", l.masked_paths());
        assert!(l.readonly_paths().as_ref().is_none_or(|p| p.is_empty()), "{:?}", l.readonly_paths());
    }

    #[test]
    fn rootfs_resolving_to_host_root_is_refused() {
        let mut h = host();
        h.rootfs = PathBuf::from("/");
        let err = plan_container("c", spec(), Path::new("/bundle"), &NodeConfig::default(), &h).unwrap_err();
        assert!(err.to_string().contains("host's /"));
    }

    #[test]
    fn wrong_version_and_missing_process_are_invalid() {
        let mut s = spec();
        s.set_version("0.9.0".into());
        assert!(plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()).is_err());
        let mut s = spec();
        s.set_process(None);
        assert!(plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap_err().to_string().contains("no process"));
    }

    #[test]
    fn empty_args_relative_cwd_and_climbing_paths_are_invalid() {
        let cases: Vec<(&str, Box<dyn Fn(&mut Spec)>)> = vec![
            ("process.args is empty", Box::new(|s| { s.process_mut().as_mut().unwrap().set_args(None); })),
            ("process.args is empty", Box::new(|s| { s.process_mut().as_mut().unwrap().set_args(Some(vec![])); })),
            ("args[0] is an empty", Box::new(|s| { s.process_mut().as_mut().unwrap().set_args(Some(vec![String::new()])); })),
            ("process.cwd", Box::new(|s| { s.process_mut().as_mut().unwrap().set_cwd("tmp".into()); })),
            ("mount destination", Box::new(|s| {
                let mut m = s.mounts().clone().unwrap()[0].clone();
                m.set_destination("/proc/../../x".into());
                s.set_mounts(Some(vec![m]));
            })),
            ("maskedPaths", Box::new(|s| { s.linux_mut().as_mut().unwrap().set_masked_paths(Some(vec!["proc/kcore".into()])); })),
            ("oomScoreAdj", Box::new(|s| { s.process_mut().as_mut().unwrap().set_oom_score_adj(Some(5000)); })),
            ("not namespaced", Box::new(|s| { s.linux_mut().as_mut().unwrap().set_sysctl(Some([("kernel.panic".to_string(), "1".to_string())].into())); })),
            ("network namespace", Box::new(|s| {
                let l = s.linux_mut().as_mut().unwrap();
                l.set_namespaces(Some(l.namespaces().clone().unwrap().into_iter().filter(|n| n.typ() != LinuxNamespaceType::Network).collect()));
                l.set_sysctl(Some([("net.ipv4.ip_forward".to_string(), "1".to_string())].into()));
            })),
            ("kernel's limit of 131072 bytes per string", Box::new(|s| { s.process_mut().as_mut().unwrap().set_args(Some(vec!["sh".into(), "a".repeat(200_000)])); })),
            ("entries", Box::new(|s| { s.process_mut().as_mut().unwrap().set_env(Some((0..1_000_000).map(|i| format!("V{i}=x")).collect())); })),
            ("readonlyPaths", Box::new(|s| { s.linux_mut().as_mut().unwrap().set_readonly_paths(Some(vec!["/a/../b".into()])); })),
        ];
        for (word, edit) in cases {
            let mut s = spec();
            edit(&mut s);
            let err = plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap_err().to_string();
            assert!(err.contains(word), "{word}: {err}");
        }
        // A relative root.path that resolved out of the bundle (a symlink in it).
        let mut h = host();
        h.rootfs = PathBuf::from("/srv/elsewhere");
        let err = plan_container("c", spec(), Path::new("/bundle"), &NodeConfig::default(), &h).unwrap_err().to_string();
        assert!(err.contains("outside the bundle"), "{err}");
    }

    #[test]
    fn lowering_oom_score_adj_without_sys_resource_is_clamped() {
        let mut s = spec();
        s.process_mut().as_mut().unwrap().set_oom_score_adj(Some(-999));
        let mut h = host();
        h.oom_score_adj = -500;
        let p = plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &h).unwrap();
        assert_eq!(p.spec.process().as_ref().unwrap().oom_score_adj(), Some(-500));
    }

    #[test]
    fn relative_bind_sources_are_made_absolute() {
        let mut s = spec();
        let mut m = oci_spec::runtime::Mount::default();
        m.set_destination("/data".into());
        m.set_typ(Some("bind".into()));
        m.set_source(Some("data".into()));
        m.set_options(Some(vec!["rbind".into(), "ro".into()]));
        s.set_mounts(Some(vec![m]));
        let p = plan_container("c", s, Path::new("/bundle"), &NodeConfig::default(), &host()).unwrap();
        assert_eq!(p.spec.mounts().as_ref().unwrap()[0].source().as_deref(), Some(Path::new("/bundle/data")));
    }

    #[test]
    fn exec_processes_are_clamped_like_the_container() {
        let mut p = Process::default();
        p.set_no_new_privileges(Some(false));
        let mut c = LinuxCapabilities::default();
        c.set_effective(Some([Capability::SysAdmin, Capability::Kill].into()));
        p.set_capabilities(Some(c));
        let (p, clamps) = plan_exec_process(p, &NodeConfig::default(), &host()).unwrap();
        assert_eq!(p.no_new_privileges(), Some(true));
        assert_eq!(p.capabilities().as_ref().unwrap().effective().as_ref().unwrap(), &Capabilities::from([Capability::Kill]));
        assert_eq!(clamps.len(), 2);
    }
}
