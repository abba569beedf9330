//! Fuzzes `isola_policy::plan_container` (and `plan_exec_process`) with hostile specs, annotations,
//! node policies and host facts. Asserts that an accepted plan never grants more than the node
//! allows: caps within the ceiling and the host's bounding set, noNewPrivileges on, a mount
//! namespace, seccomp when the node demands it, no service-account mount for a wasm guest unless
//! asked for, wasm memory within the cgroup limit; and that every refusal is one line.
//!
//! Input: bytes starting with `{` are a raw `config.json` (optionally followed by `\0` and a node
//! policy TOML); anything else drives a structured builder through `arbitrary`.

#![no_main]

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use arbitrary::{Result, Unstructured};
use isola_fuzz::{annotations, cap, host_facts, node_config, pick};
use isola_policy::wasm::SERVICE_ACCOUNT_DIRS;
use isola_policy::{plan_container, plan_exec_process, HostFacts, Mode, NodeConfig, WasmSelection};
use libfuzzer_sys::fuzz_target;
use oci_spec::runtime::{
    Capabilities, Capability, LinuxCapabilities, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxNamespace,
    LinuxNamespaceType, LinuxSeccomp, Mount, Process, Spec,
};

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        raw(data);
    } else {
        let _ = structured(&mut Unstructured::new(data));
    }
});

/// `config.json` bytes, as `create` reads them, against the built-in policy (or the given one).
fn raw(data: &[u8]) {
    let (json, node) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], std::str::from_utf8(&data[i + 1..]).ok().and_then(|t| NodeConfig::parse(t).ok())),
        None => (data, None),
    };
    let Ok(text) = std::str::from_utf8(json) else { return };
    let Ok(spec) = serde_json::from_str::<Spec>(text) else { return };
    let node = node.unwrap_or_default();
    // Each host fact in both states, in two plans (not four: the plan's cost dominates).
    for (entrypoint_is_wasm, systemd_cgroup) in [(false, false), (true, true)] {
        let host = HostFacts {
            bounding: isola_fuzz::cap_set(u64::MAX),
            oom_score_adj: 0,
            rootfs: PathBuf::from("/bundle/rootfs"),
            entrypoint_is_wasm,
            systemd_cgroup,
        };
        check(spec.clone(), &node, &host);
    }
}

fn caps(u: &mut Unstructured<'_>) -> Result<Option<Capabilities>> {
    if u.ratio(1, 4)? {
        return Ok(None);
    }
    let mut set = Capabilities::new();
    for _ in 0..u.int_in_range(0..=5)? {
        set.insert(cap(u.arbitrary()?));
    }
    Ok(Some(set))
}

fn structured(u: &mut Unstructured<'_>) -> Result<()> {
    let mut spec = Spec::default();
    if u.ratio(1, 16)? {
        spec.set_version(pick(u, &["1.0.2", "1.2.0", "0.9.0", "1", "2.0.0", ""])?);
    }
    let mut ann = annotations(u)?;
    if u.ratio(1, 2)? {
        ann.insert("io.isola.mode".into(), "wasm".into());
    }
    spec.set_annotations(Some(ann));
    if let Some(p) = spec.process_mut() {
        p.set_no_new_privileges(u.arbitrary()?);
        if u.ratio(1, 8)? {
            p.set_cwd(pick(u, &["/", "tmp", "/a/../b"])?.into());
            p.set_args(if u.arbitrary()? { None } else { Some(vec![pick(u, &["/bin/sh", ""])?]) });
        }
        p.set_oom_score_adj(if u.arbitrary()? { Some(u.int_in_range(-1000..=1000)?) } else { None });
        if u.ratio(3, 4)? {
            let mut c = LinuxCapabilities::default();
            c.set_bounding(caps(u)?);
            c.set_effective(caps(u)?);
            c.set_inheritable(caps(u)?);
            c.set_permitted(caps(u)?);
            c.set_ambient(caps(u)?);
            p.set_capabilities(Some(c));
        } else {
            p.set_capabilities(None);
        }
    }
    if u.ratio(1, 32)? {
        spec.set_process(None);
    }
    if u.ratio(1, 32)? {
        spec.set_root(None);
    }
    let mut mounts = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let mut m = Mount::default();
        let dest = pick(
            u,
            &[
                SERVICE_ACCOUNT_DIRS[0],
                SERVICE_ACCOUNT_DIRS[1],
                "/var/run/secrets/kubernetes.io/serviceaccount/token",
                "/var/run/secrets/kubernetes.io/serviceaccount/../serviceaccount",
                "/var/run/secrets/kubernetes.io/./serviceaccount",
                "//var/run/secrets/kubernetes.io/serviceaccount/",
                "var/run/secrets/kubernetes.io/serviceaccount",
                "/run/secrets/kubernetes.io/serviceaccount2",
                "/data",
            ],
        )?;
        m.set_destination(dest.into());
        m.set_source(Some(pick(u, &["data", "/host/token", "../escape", ""])?.into()));
        m.set_typ(Some(pick(u, &["bind", "tmpfs", "proc"])?));
        m.set_options(Some(vec![pick(u, &["rbind", "bind", "ro", "nosuid"])?]));
        mounts.push(m);
    }
    spec.set_mounts(Some(mounts));
    if let Some(linux) = spec.linux_mut() {
        if u.ratio(1, 4)? {
            let mut ns = linux.namespaces().clone().unwrap_or_default();
            match u.int_in_range(0..=2)? {
                0 => ns.retain(|n| n.typ() != LinuxNamespaceType::Mount),
                1 => {
                    for n in ns.iter_mut().filter(|n| n.typ() == LinuxNamespaceType::Mount) {
                        n.set_path(Some("/proc/1/ns/mnt".into()));
                    }
                }
                _ => {
                    let mut extra = LinuxNamespace::default();
                    extra.set_typ(LinuxNamespaceType::Mount);
                    ns.push(extra);
                }
            }
            linux.set_namespaces(Some(ns));
        }
        if u.ratio(1, 4)? {
            let mut dev = LinuxDeviceCgroup::default();
            dev.set_allow(u.arbitrary()?);
            dev.set_typ(*u.choose(&[None, Some(LinuxDeviceType::A), Some(LinuxDeviceType::C), Some(LinuxDeviceType::B)])?);
            dev.set_major(if u.arbitrary()? { Some(u.arbitrary()?) } else { None });
            dev.set_minor(if u.arbitrary()? { Some(u.arbitrary()?) } else { None });
            dev.set_access(Some("rwm".into()));
            if let Some(r) = linux.resources_mut() {
                r.set_devices(Some(vec![dev]));
            }
        }
        if u.ratio(1, 2)? {
            let mut mem = LinuxMemory::default();
            mem.set_limit(Some(*u.choose(&[-1, 0, 1, 65536, 64 << 20, i64::MAX, i64::MIN])?));
            if let Some(r) = linux.resources_mut() {
                r.set_memory(Some(mem));
            }
        }
        if u.ratio(1, 4)? {
            linux.set_seccomp(Some(LinuxSeccomp::default()));
        }
        if u.ratio(1, 4)? {
            let key = pick(u, &["net.ipv4.ip_forward", "kernel.shmmax", "kernel.hostname", "kernel.panic", "fs.mqueue.x"])?;
            linux.set_sysctl(Some([(key, "1".to_string())].into()));
        }
        if u.ratio(1, 8)? {
            linux.set_masked_paths(Some(vec![]));
            linux.set_readonly_paths(None);
        }
    }
    if u.ratio(1, 32)? {
        spec.set_linux(None);
    }
    let node = node_config(u)?;
    let host = host_facts(u)?;
    check(spec, &node, &host);
    Ok(())
}

/// A planned process has a capabilities object with all five sets present.
fn every_set_given(p: &Process) {
    let c = p.capabilities().as_ref().expect("a planned process always has a capabilities object");
    for set in [c.bounding(), c.effective(), c.inheritable(), c.permitted(), c.ambient()] {
        assert!(set.is_some(), "a capability set left to the runtime: {c:?}");
    }
}

/// Every capability a set of sets mentions.
fn all_caps(c: &LinuxCapabilities) -> HashSet<Capability> {
    [c.bounding(), c.effective(), c.inheritable(), c.permitted(), c.ambient()]
        .into_iter()
        .flatten()
        .flat_map(|s| s.iter().copied())
        .collect()
}

/// `path` with `.` and `..` resolved lexically and made absolute (as the container layer joins a
/// destination under the rootfs: `..` cannot climb above `/`).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn check(spec: Spec, node: &NodeConfig, host: &HostFacts) {
    let requested = spec.process().as_ref().and_then(|p| p.capabilities().clone()).map(|c| all_caps(&c)).unwrap_or_default();
    let own_seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    let annotations = spec.annotations().clone().unwrap_or_default();
    let selection = isola_policy::mode::select(&annotations);
    let ceiling: HashSet<Capability> =
        node.capability_ceiling.iter().filter_map(|s| isola_policy::caps::parse(s).ok()).collect();

    if let Some(process) = spec.process().clone() {
        check_exec(process, node, host, &requested, &ceiling);
    }

    let plan = match plan_container("fuzz", spec, Path::new("/bundle"), node, host) {
        Ok(p) => p,
        Err(e) => {
            assert!(!e.to_string().contains('\n'), "a refusal is one line: {e}");
            return;
        }
    };
    assert!(plan.spec.version().starts_with("1."));
    assert_ne!(host.rootfs, Path::new("/"), "a rootfs resolving to / was accepted");
    assert_eq!(plan.spec.root().as_ref().map(|r| r.path().as_path()), Some(host.rootfs.as_path()));
    let process = plan.spec.process().as_ref().expect("a plan has a process");
    assert_eq!(process.no_new_privileges(), Some(true), "noNewPrivileges must always be forced on");
    if let Some(adj) = process.oom_score_adj() {
        if !host.bounding.contains(&Capability::SysResource) {
            assert!(adj >= host.oom_score_adj, "oomScoreAdj {adj} below the runtime's own without CAP_SYS_RESOURCE");
        }
    }
    // Every set is spelled out: a set left out would be the runtime's own in libcontainer
    // (every capability of the host), not an empty one.
    every_set_given(process);
    let granted = process.capabilities().as_ref().map(all_caps).unwrap_or_default();
    assert!(granted.is_subset(&requested), "policy added capabilities: {granted:?} vs {requested:?}");
    assert!(granted.is_subset(&host.bounding), "a capability outside the host's bounding set: {granted:?}");
    let linux = plan.spec.linux().as_ref().expect("a plan has a linux section");
    if !node.allow_privileged {
        assert!(granted.is_subset(&ceiling), "capabilities above the node's ceiling: {granted:?}");
        assert!(!granted.contains(&Capability::SysAdmin), "CAP_SYS_ADMIN without allow-privileged");
        let ns = linux.namespaces().clone().unwrap_or_default();
        assert!(
            ns.iter().any(|n| n.typ() == LinuxNamespaceType::Mount && n.path().is_none()),
            "no new mount namespace without allow-privileged"
        );
        let devices = linux.resources().as_ref().and_then(|r| r.devices().clone()).unwrap_or_default();
        assert!(
            !devices.iter().any(|d| d.allow()
                && d.major().is_none()
                && d.minor().is_none()
                && d.typ().is_none_or(|t| t == LinuxDeviceType::A)),
            "every device allowed without allow-privileged"
        );
    }
    if own_seccomp.is_some() {
        assert_eq!(linux.seccomp(), &own_seccomp, "the spec's own seccomp profile was changed");
    } else if node.default_seccomp {
        assert!(linux.seccomp().is_some(), "no seccomp profile although the node demands one");
    }
    // Masking needs a mount namespace; only allow-privileged admits a spec without one, and
    // such a spec gets no masks added (libcontainer and runc refuse masks without one).
    if linux.namespaces().iter().flatten().any(|n| n.typ() == LinuxNamespaceType::Mount) {
        assert!(linux.masked_paths().as_ref().is_some_and(|p| !p.is_empty()));
        assert!(linux.readonly_paths().as_ref().is_some_and(|p| !p.is_empty()));
    } else {
        assert!(node.allow_privileged, "no mount namespace without allow-privileged");
    }
    assert!(linux.cgroups_path().is_some());

    let selection = selection.expect("an accepted plan had a valid selection");
    assert_eq!(plan.selection, selection);
    let want_mode = match selection {
        WasmSelection::Linux => Mode::Linux,
        WasmSelection::Wasm => Mode::Wasm,
        WasmSelection::Smart => {
            if host.entrypoint_is_wasm {
                Mode::Wasm
            } else {
                Mode::Linux
            }
        }
    };
    assert_eq!(plan.mode, want_mode);
    let is_sandbox = annotations.get("io.kubernetes.cri.container-type").map(String::as_str) == Some("sandbox")
        || annotations.get("io.kubernetes.cri-o.ContainerType").map(String::as_str) == Some("sandbox");
    if is_sandbox {
        assert_eq!(plan.mode, Mode::Linux, "the pause container must always be Linux");
    }
    assert_eq!(plan.wasm.is_some(), plan.mode == Mode::Wasm);
    if let Some(w) = &plan.wasm {
        assert_eq!(w.host_seccomp, node.wasm.host_seccomp, "an annotation changed the host seccomp setting");
        assert_eq!(w.module_cache, node.wasm.module_cache, "an annotation changed the module cache");
        assert!(w.clock_resolution_ns >= 1);
        let limit = linux
            .resources()
            .as_ref()
            .and_then(|r| r.memory().as_ref())
            .and_then(|m| m.limit())
            .and_then(|l| u64::try_from(l).ok());
        if let Some(limit) = limit {
            assert!(w.max_memory <= limit, "wasm max-memory {} above the cgroup limit {limit}", w.max_memory);
            assert!(w.compile_memory <= limit, "compile memory {} above the cgroup limit {limit}", w.compile_memory);
        }
        assert!(w.compile_memory <= node.wasm.compile_memory, "compile memory above the node's bound");
        assert_eq!(
            (w.max_module_bytes, w.compile_timeout_ms, w.cache_max_bytes),
            (node.wasm.max_module_bytes, node.wasm.compile_timeout_ms, node.wasm.cache_max_bytes),
            "an annotation changed a node-only wasm setting"
        );
        assert_eq!(
            w.expose_service_account,
            annotations.get("io.isola.wasm.expose-service-account").map(String::as_str) == Some("true")
        );
        if !w.expose_service_account {
            for m in plan.spec.mounts().iter().flatten() {
                let dest = lexical(m.destination());
                assert!(
                    !SERVICE_ACCOUNT_DIRS.iter().any(|d| dest.starts_with(d)),
                    "service-account mount {:?} left visible to a wasm guest",
                    m.destination()
                );
            }
        }
    }
}

/// `exec` clamps its process as `create` does.
fn check_exec(process: Process, node: &NodeConfig, host: &HostFacts, requested: &HashSet<Capability>, ceiling: &HashSet<Capability>) {
    let exec_requested = process.capabilities().as_ref().map(all_caps).unwrap_or_default();
    match plan_exec_process(process, node, host) {
        Ok((p, _)) => {
            assert_eq!(p.no_new_privileges(), Some(true));
            every_set_given(&p);
            let granted = p.capabilities().as_ref().map(all_caps).unwrap_or_default();
            assert!(granted.is_subset(&exec_requested) && granted.is_subset(requested));
            assert!(granted.is_subset(&host.bounding));
            if !node.allow_privileged {
                assert!(granted.is_subset(ceiling), "exec: capabilities above the ceiling: {granted:?}");
                assert!(!granted.contains(&Capability::SysAdmin), "exec: CAP_SYS_ADMIN without allow-privileged");
            }
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
}
