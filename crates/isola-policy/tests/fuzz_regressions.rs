//! Inputs the fuzz targets (fuzz/fuzz_targets/plan.rs, annotations.rs, node_config.rs) found breaking a policy
//! property, pinned as ordinary tests. Each names the property it broke.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use isola_policy::wasm::plan_wasm;
use isola_policy::{plan_exec_process, HostFacts, NodeConfig};
use oci_spec::runtime::{Capability, LinuxCapabilities, Process};

fn host() -> HostFacts {
    HostFacts {
        bounding: isola_policy::caps::DEFAULT_CEILING
            .iter()
            .map(|c| isola_policy::caps::parse(c).unwrap())
            .chain([Capability::SysAdmin])
            .collect::<HashSet<_>>(),
        oom_score_adj: 0,
        rootfs: PathBuf::from("/bundle/rootfs"),
        entrypoint_is_wasm: false,
        systemd_cgroup: false,
    }
}

/// fuzz/plan: `create` refuses CAP_SYS_ADMIN without allow-privileged even when the node's
/// capability ceiling lists it, but `exec` granted it; it is now dropped like any capability
/// above the ceiling.
#[test]
fn exec_cannot_get_sys_admin_from_the_ceiling_without_allow_privileged() {
    let node = NodeConfig {
        capability_ceiling: vec!["CAP_SYS_ADMIN".into(), "CAP_KILL".into()],
        ..NodeConfig::default()
    };
    let mut process = Process::default();
    let mut caps = LinuxCapabilities::default();
    caps.set_effective(Some([Capability::SysAdmin, Capability::Kill].into()));
    process.set_capabilities(Some(caps));

    let (p, clamps) = plan_exec_process(process.clone(), &node, &host()).unwrap();
    let effective = p.capabilities().as_ref().unwrap().effective().clone().unwrap();
    assert_eq!(effective, [Capability::Kill].into());
    assert!(clamps.iter().any(|c| c.0.contains("CAP_SYS_ADMIN")), "{clamps:?}");

    let allowed = NodeConfig { allow_privileged: true, ..node };
    let (p, _) = plan_exec_process(process, &allowed, &host()).unwrap();
    assert!(p.capabilities().as_ref().unwrap().effective().as_ref().unwrap().contains(&Capability::SysAdmin));
}

/// fuzz/annotations: an unknown `io.isola.wasm.*` key was echoed raw into the error, so a
/// tenant's annotation with a newline split the runtime's one-line error (and forged log lines).
#[test]
fn an_unknown_wasm_annotation_with_a_newline_is_a_one_line_error() {
    let annotations: HashMap<String, String> =
        [("io.isola.wasm.fuel\u{3}\u{1}\0(\n level=info msg=forged".to_string(), "1".to_string())].into();
    let err = plan_wasm(&annotations, None, &NodeConfig::default()).unwrap_err();
    assert!(err.contains("unknown annotation"), "{err}");
    assert!(!err.contains('\n'), "{err:?}");
}

/// fuzz/plan: the refusal of a relative root.path that resolves outside the bundle printed the
/// resolved path raw, so a directory name with a newline split the one-line error.
#[test]
fn a_rootfs_outside_the_bundle_is_a_one_line_error() {
    let mut h = host();
    h.rootfs = PathBuf::from("/elsewhere/evil\nlevel=info msg=forged");
    let spec = oci_spec::runtime::Spec::default();
    let err = isola_policy::plan_container("c", spec, std::path::Path::new("/bundle"), &NodeConfig::default(), &h)
        .unwrap_err()
        .to_string();
    assert!(err.contains("outside the bundle"), "{err}");
    assert!(!err.contains('\n'), "{err:?}");
}

/// fuzz/plan: a refused sysctl's key was printed raw, so a key with a newline split the
/// one-line error.
#[test]
fn a_refused_sysctl_is_a_one_line_error() {
    let mut spec = oci_spec::runtime::Spec::default();
    spec.linux_mut().as_mut().unwrap().set_sysctl(Some([("\ntim".to_string(), "1".to_string())].into()));
    let err = isola_policy::plan_container("c", spec, std::path::Path::new("/bundle"), &NodeConfig::default(), &host())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not namespaced"), "{err}");
    assert!(!err.contains('\n'), "{err:?}");
}

/// fuzz/fuzz_targets/node_config.rs: `wasm = []` was accepted (serde reads a struct from an
/// array, by position), so `wasm = [1024]` set max-memory. The `[wasm]` section must be a table.
#[test]
fn a_wasm_section_that_is_not_a_table_is_refused() {
    for text in ["wasm=[]", "wasm = [1024]", "wasm = 3", "wasm = \"x\""] {
        let err = NodeConfig::parse(text).expect_err(text);
        assert!(err.contains("wasm") && err.contains("table") && !err.contains('\n'), "{text}: {err}");
    }
    assert_eq!(NodeConfig::parse("[wasm]\nmax-memory = 1024\n").unwrap().wasm.max_memory, 1024);
}
