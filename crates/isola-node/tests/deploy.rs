//! Every YAML document under deploy/ parses into its typed Kubernetes object, and serializing it
//! back gives the same JSON (so a misspelled or unknown field fails here, not on a cluster);
//! the example pods' isola annotations pass isola's own policy; the CRI-O drop-in says what
//! `isola install` says for containerd.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, PodSpec, ServiceAccount};
use k8s_openapi::api::node::v1::RuntimeClass;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::de::DeserializeOwned;
use serde::Deserialize as _;
use serde::Serialize;
use serde_json::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

/// One parsed document: where it came from and its typed form.
enum Object {
    Pod(Box<Pod>),
    DaemonSet(Box<DaemonSet>),
    RuntimeClass(Box<RuntimeClass>),
    ConfigMap(Box<ConfigMap>),
    Other,
}

/// Parses `doc` as `T` and checks that nothing was dropped or renamed on the way.
fn strict<T: DeserializeOwned + Serialize>(doc: &Value, where_: &str) -> T {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{where_}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, doc, "{where_}: a field was not understood (misspelled, unknown or mistyped)");
    typed
}

/// A kind this suite checks but does not look into further.
fn checked<T: DeserializeOwned + Serialize>(doc: &Value, where_: &str) -> Object {
    strict::<T>(doc, where_);
    Object::Other
}

fn all_documents() -> Vec<(String, Object)> {
    let mut files = Vec::new();
    yaml_files(&deploy_dir(), &mut files);
    assert!(files.len() >= 6, "deploy/ has its manifests: {files:?}");
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, de) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let yaml = serde_yaml::Value::deserialize(de).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if yaml.is_null() {
                continue;
            }
            let doc: Value = serde_json::to_value(&yaml).unwrap();
            let where_ = format!("{} document {}", file.display(), i + 1);
            let kind = (doc["apiVersion"].as_str().unwrap_or(""), doc["kind"].as_str().unwrap_or(""));
            let obj = match kind {
                ("v1", "Pod") => Object::Pod(Box::new(strict(&doc, &where_))),
                ("apps/v1", "DaemonSet") => Object::DaemonSet(Box::new(strict(&doc, &where_))),
                ("node.k8s.io/v1", "RuntimeClass") => Object::RuntimeClass(Box::new(strict(&doc, &where_))),
                ("v1", "Namespace") => checked::<Namespace>(&doc, &where_),
                ("v1", "ServiceAccount") => checked::<ServiceAccount>(&doc, &where_),
                ("v1", "ConfigMap") => Object::ConfigMap(Box::new(strict(&doc, &where_))),
                ("rbac.authorization.k8s.io/v1", "ClusterRole") => checked::<ClusterRole>(&doc, &where_),
                ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => checked::<ClusterRoleBinding>(&doc, &where_),
                other => panic!("{where_}: no typed check for {other:?}; add one"),
            };
            out.push((where_, obj));
        }
    }
    out
}

#[test]
fn every_deploy_document_parses_strictly_into_its_kubernetes_type() {
    let docs = all_documents();
    let count = |f: fn(&Object) -> bool| docs.iter().filter(|(_, o)| f(o)).count();
    assert!(count(|o| matches!(o, Object::Pod(_))) >= 4, "the four example pods");
    assert_eq!(count(|o| matches!(o, Object::DaemonSet(_))), 1);
    assert_eq!(count(|o| matches!(o, Object::RuntimeClass(_))), 2, "isola and isola-shim");
}

#[test]
fn strictness_catches_a_misspelled_field() {
    let doc = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
        "spec": {"runtimeClasName": "isola", "containers": [{"name": "a", "image": "b"}]}});
    let caught = std::panic::catch_unwind(|| strict::<Pod>(&doc, "test"));
    assert!(caught.is_err());
}

#[test]
fn runtimeclass_and_installer_fit_together() {
    let docs = all_documents();
    let classes: Vec<_> = docs.iter().filter_map(|(_, o)| if let Object::RuntimeClass(r) = o { Some(r) } else { None }).collect();
    let handlers: Vec<&str> = classes.iter().map(|rc| rc.handler.as_str()).collect();
    assert_eq!(handlers, [isola_node::install::DEFAULT_HANDLER, "isola-shim"]);
    for rc in classes {
        assert_eq!(rc.metadata.name.as_deref(), Some(rc.handler.as_str()));
        let selector = rc.scheduling.as_ref().and_then(|s| s.node_selector.as_ref()).unwrap();
        assert_eq!(selector.get("isola.dev/installed").map(String::as_str), Some("true"));
        assert!(rc.overhead.as_ref().and_then(|o| o.pod_fixed.as_ref()).is_some_and(|p| p.contains_key("memory")));
    }

    let ds = docs.iter().find_map(|(_, o)| if let Object::DaemonSet(d) = o { Some(d) } else { None }).unwrap();
    assert_eq!(ds.metadata.namespace.as_deref(), Some("isola-system"));
    let spec = ds.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(spec.host_pid, Some(true));
    assert_eq!(spec.containers[0].security_context.as_ref().unwrap().privileged, Some(true));
    let host_paths: Vec<&str> =
        spec.volumes.iter().flatten().filter_map(|v| v.host_path.as_ref()).map(|h| h.path.as_str()).collect();
    assert_eq!(host_paths, ["/etc/containerd", "/usr/local/bin", "/run"]);
}

#[test]
fn installer_script_is_valid_shell_and_uses_host_paths() {
    let docs = all_documents();
    let cm = docs.iter().find_map(|(_, o)| if let Object::ConfigMap(c) = o { Some(c) } else { None }).unwrap();
    let script = &cm.data.as_ref().unwrap()["install.sh"];
    let out = std::process::Command::new("sh").args(["-n", "-c", script]).output().unwrap();
    assert!(out.status.success(), "sh -n: {}", String::from_utf8_lossy(&out.stderr));
    // containerd reads BinaryName and Root on the host, so the script passes host paths.
    assert!(script.contains("--binary /usr/local/bin/isola --runtime-root /run/isola"));
    assert!(script.contains("--shim --handler isola-shim --binary /usr/local/bin/containerd-shim-isola-v1 --runtime-root /run/isola"));
    assert!(script.contains("nsenter -t 1 -m -u -i -n -p -- systemctl restart containerd"));
    assert!(script.contains("isola.dev/installed"));
}

fn example_pods() -> Vec<(String, Pod)> {
    all_documents()
        .into_iter()
        .filter_map(|(w, o)| match o {
            Object::Pod(p) if w.contains("/examples/") => Some((w, *p)),
            _ => None,
        })
        .collect()
}

fn memory_limit(spec: &PodSpec) -> Option<u64> {
    let q = spec.containers[0].resources.as_ref()?.limits.as_ref()?.get("memory")?.0.clone();
    let (n, unit) = q.split_at(q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len()));
    let mult = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        other => panic!("unit {other} not handled by this test"),
    };
    Some(n.parse::<u64>().ok()? * mult)
}

#[test]
fn example_pods_use_isola_and_their_annotations_pass_isola_policy() {
    let pods = example_pods();
    assert_eq!(pods.len(), 4);
    let node = isola_policy::NodeConfig::default();
    for (where_, pod) in &pods {
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.runtime_class_name.as_deref(), Some("isola"), "{where_}");
        assert_eq!(spec.automount_service_account_token, Some(false), "{where_}: no token for untrusted code");
        let annotations: HashMap<String, String> = pod.metadata.annotations.clone().unwrap_or_default().into_iter().collect();
        let selection = isola_policy::mode::select(&annotations).unwrap_or_else(|e| panic!("{where_}: {e}"));
        if annotations.contains_key("module.wasm.image/variant") {
            assert_eq!(selection, isola_policy::WasmSelection::Smart, "{where_}");
            isola_policy::wasm::plan_wasm(&annotations, memory_limit(spec), &node).unwrap_or_else(|e| panic!("{where_}: {e}"));
        }
    }
    let (_, limits) = pods.iter().find(|(w, _)| w.contains("wasm-limits")).unwrap();
    let annotations: HashMap<String, String> = limits.metadata.annotations.clone().unwrap().into_iter().collect();
    let (plan, _) = isola_policy::wasm::plan_wasm(&annotations, memory_limit(limits.spec.as_ref().unwrap()), &node).unwrap();
    assert_eq!(plan.max_memory, 32 << 20);
    assert_eq!(plan.timeout_ms, Some(5000));
    assert!(!plan.expose_service_account);
}

#[test]
fn untrusted_linux_example_is_hardened() {
    let pods = example_pods();
    let (_, pod) = pods.iter().find(|(w, _)| w.contains("untrusted-linux")).unwrap();
    let spec = pod.spec.as_ref().unwrap();
    let psc = spec.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()), Some("RuntimeDefault"));
    for c in &spec.containers {
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.capabilities.as_ref().and_then(|c| c.drop.clone()), Some(vec!["ALL".to_owned()]));
        assert!(c.resources.as_ref().and_then(|r| r.limits.as_ref()).is_some_and(|l| l.contains_key("memory")));
    }
}

#[test]
fn crio_drop_in_matches_what_install_writes_for_containerd() {
    let text = std::fs::read_to_string(deploy_dir().join("crio/99-isola.conf")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let rt = doc["crio"]["runtime"]["runtimes"]["isola"].as_table().unwrap();
    assert_eq!(rt["runtime_path"].as_str(), Some("/usr/local/bin/isola"));
    assert_eq!(rt["runtime_root"].as_str(), Some(isola_node::install::DEFAULT_RUNTIME_ROOT));
    assert_eq!(rt["runtime_type"].as_str(), Some("oci"));
    let allowed: Vec<&str> = rt["allowed_annotations"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for key in ["module.wasm.image/variant", "run.oci.handler", "io.isola.mode", "io.isola.wasm.max-memory"] {
        assert!(allowed.contains(&key), "{key} missing");
    }
}
