//! From an OCI spec to the spec isola will actually run: refuse what untrusted code must never
//! get, clamp what can be clamped, and record every clamp so the caller can log it.
//! Pure: host facts (bounding set, oom_score_adj, resolved rootfs) arrive as [`HostFacts`].

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, Capability, LinuxCapabilities, LinuxNamespaceType, Process, Spec,
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

/// Default cgroup path for a container whose spec gives none.
pub fn default_cgroups_path(id: &str) -> PathBuf {
    PathBuf::from(format!("/isola/{id}"))
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
    let selection = mode::select(&spec.annotations().clone().unwrap_or_default())
        .map_err(PolicyError::Invalid)?;
    if spec.linux().is_none() {
        return Err(PolicyError::Invalid("the spec has no linux section".into()));
    }

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
        linux.set_cgroups_path(Some(default_cgroups_path(id)));
    }
    if node.default_seccomp && linux.seccomp().is_none() {
        linux.set_seccomp(Some(seccomp::default_profile()));
        clamps.push(Clamp("seccomp: the spec has none; applied isola's built-in profile".into()));
    }
    if linux.masked_paths().as_ref().is_none_or(|p| p.is_empty()) {
        linux.set_masked_paths(Some(oci_spec::runtime::get_default_maskedpaths()));
        clamps.push(Clamp("maskedPaths: the spec has none; applied the default list".into()));
    }
    if linux.readonly_paths().as_ref().is_none_or(|p| p.is_empty()) {
        linux.set_readonly_paths(Some(oci_spec::runtime::get_default_readonly_paths()));
        clamps.push(Clamp("readonlyPaths: the spec has none; applied the default list".into()));
    }
    let mode = selection.resolve(|| host.entrypoint_is_wasm);
    let wasm = if mode == Mode::Wasm {
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
    let Some(mut c) = process.capabilities().clone() else {
        return Ok(());
    };
    let ceiling: HashSet<Capability> = if node.allow_privileged {
        // An operator who allows privileged containers lifts the ceiling too.
        cap_sets(&c).into_iter().flatten().collect()
    } else {
        node.capability_ceiling.iter().filter_map(|s| caps::parse(s).ok()).collect()
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
    use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

    fn host() -> HostFacts {
        let all: HashSet<Capability> = (0..=40)
            .filter_map(|n| {
                crate::caps::DEFAULT_CEILING.iter().map(|s| crate::caps::parse(s).unwrap()).find(|c| crate::caps::number(*c) == n)
            })
            .chain([Capability::SysAdmin, Capability::NetRaw, Capability::SysPtrace])
            .collect();
        HostFacts { bounding: all, oom_score_adj: 0, rootfs: PathBuf::from("/bundle/rootfs"), entrypoint_is_wasm: false }
    }

    fn spec() -> Spec {
        Spec::default()
    }

    fn caps_of(p: &Plan) -> LinuxCapabilities {
        p.spec.process().as_ref().unwrap().capabilities().clone().unwrap()
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
        let p = plan_container("c", s.clone(), Path::new("/b"), &NodeConfig::default(), &host()).unwrap();
        assert_eq!(p.mode, Mode::Wasm);
        assert!(p.wasm.is_some());
        assert!(p.spec.mounts().as_ref().unwrap().is_empty());

        let mut annotations = s.annotations().clone().unwrap();
        annotations.insert("io.isola.wasm.expose-service-account".into(), "true".into());
        s.set_annotations(Some(annotations));
        let p = plan_container("c", s, Path::new("/b"), &NodeConfig::default(), &host()).unwrap();
        assert_eq!(p.spec.mounts().as_ref().unwrap().len(), 1);
    }

    #[test]
    fn smart_selection_follows_the_entrypoint() {
        let mut s = spec();
        s.set_annotations(Some([("run.oci.handler".to_string(), "wasm-smart".to_string())].into()));
        let p = plan_container("c", s.clone(), Path::new("/b"), &NodeConfig::default(), &host()).unwrap();
        assert_eq!(p.mode, Mode::Linux);
        let mut h = host();
        h.entrypoint_is_wasm = true;
        let p = plan_container("c", s, Path::new("/b"), &NodeConfig::default(), &h).unwrap();
        assert_eq!(p.mode, Mode::Wasm);
    }

    #[test]
    fn a_spec_seccomp_profile_is_kept() {
        let mut s = spec();
        let mut own = oci_spec::runtime::LinuxSeccomp::default();
        own.set_default_action(oci_spec::runtime::LinuxSeccompAction::ScmpActLog);
        s.linux_mut().as_mut().unwrap().set_seccomp(Some(own.clone()));
        let p = plan_container("c", s, Path::new("/b"), &NodeConfig::default(), &host()).unwrap();
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
        let p = plan_container("c", s, Path::new("/b"), &NodeConfig::default(), &host()).unwrap();
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
        let err = plan_container("c", s, Path::new("/b"), &node, &host()).unwrap_err();
        assert_eq!(err, PolicyError::MissingCapability("CAP_SYS_RESOURCE".into()));
        assert!(err.to_string().contains("bounding set"));
    }

    #[test]
    fn privileged_specs_are_refused_unless_the_node_allows_them() {
        let mut s = spec();
        let mut c = LinuxCapabilities::default();
        c.set_effective(Some([Capability::SysAdmin].into()));
        s.process_mut().as_mut().unwrap().set_capabilities(Some(c));
        let err = plan_container("c", s.clone(), Path::new("/b"), &NodeConfig::default(), &host()).unwrap_err();
        assert!(matches!(err, PolicyError::Privileged(m) if m.contains("CAP_SYS_ADMIN")));
        let node = NodeConfig { allow_privileged: true, ..NodeConfig::default() };
        let p = plan_container("c", s, Path::new("/b"), &node, &host()).unwrap();
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
            plan_container("c", s, Path::new("/b"), &NodeConfig::default(), &host()),
            Err(PolicyError::Privileged(m)) if m.contains("every device")
        ));

        let mut s = spec();
        let linux = s.linux_mut().as_mut().unwrap();
        let ns: Vec<_> = linux.namespaces().clone().unwrap().into_iter().filter(|n| n.typ() != LinuxNamespaceType::Mount).collect();
        linux.set_namespaces(Some(ns));
        assert!(matches!(
            plan_container("c", s, Path::new("/b"), &NodeConfig::default(), &host()),
            Err(PolicyError::Privileged(m)) if m.contains("mount namespace")
        ));
    }

    #[test]
    fn rootfs_resolving_to_host_root_is_refused() {
        let mut h = host();
        h.rootfs = PathBuf::from("/");
        let err = plan_container("c", spec(), Path::new("/b"), &NodeConfig::default(), &h).unwrap_err();
        assert!(err.to_string().contains("host's /"));
    }

    #[test]
    fn wrong_version_and_missing_process_are_invalid() {
        let mut s = spec();
        s.set_version("0.9.0".into());
        assert!(plan_container("c", s, Path::new("/b"), &NodeConfig::default(), &host()).is_err());
        let mut s = spec();
        s.set_process(None);
        assert!(plan_container("c", s, Path::new("/b"), &NodeConfig::default(), &host()).unwrap_err().to_string().contains("no process"));
    }

    #[test]
    fn lowering_oom_score_adj_without_sys_resource_is_clamped() {
        let mut s = spec();
        s.process_mut().as_mut().unwrap().set_oom_score_adj(Some(-999));
        let mut h = host();
        h.oom_score_adj = -500;
        let p = plan_container("c", s, Path::new("/b"), &NodeConfig::default(), &h).unwrap();
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
        let p = plan_container("c", s, Path::new("/b"), &NodeConfig::default(), &host()).unwrap();
        assert_eq!(p.spec.mounts().as_ref().unwrap()[0].source().as_deref(), Some(Path::new("/b/data")));
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
