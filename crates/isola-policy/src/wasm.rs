//! The wasm sandbox settings of one container: node defaults overridden by `io.isola.wasm.*`
//! annotations, checked strictly (an unknown key or a bad number is an error, never ignored).

use std::collections::HashMap;

use crate::node::{NodeConfig, WasmCompiler};

/// Prefix of isola's wasm annotations.
pub const PREFIX: &str = "io.isola.wasm.";

/// Where the Kubernetes service-account token is mounted.
pub const SERVICE_ACCOUNT_DIRS: &[&str] = &[
    "/var/run/secrets/kubernetes.io/serviceaccount",
    "/run/secrets/kubernetes.io/serviceaccount",
];

/// Validated wasm settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmPlan {
    /// Bytes of linear memory per memory.
    pub max_memory: u64,
    /// Wall-clock limit.
    pub timeout_ms: Option<u64>,
    /// Instruction budget.
    pub fuel: Option<u64>,
    /// Resolution of every guest clock.
    pub clock_resolution_ns: u64,
    /// Whether the guest may see the service-account token mount.
    pub expose_service_account: bool,
    /// Directory of the compiled-module cache.
    pub module_cache: String,
    /// Whether the wasm host gets its own seccomp allow-list (node policy only, never an
    /// annotation: a tenant cannot loosen it).
    pub host_seccomp: bool,
    /// Largest module file accepted (node policy).
    pub max_module_bytes: u64,
    /// Memory one compilation may use: the node's bound, lowered to the container's memory
    /// limit, so a pod never compiles with more memory than it may hold.
    pub compile_memory: u64,
    /// Wall-clock limit of one compilation (node policy).
    pub compile_timeout_ms: u64,
    /// Size bound of the module cache (node policy).
    pub cache_max_bytes: u64,
    /// Which compiler makes the module's code (node policy).
    pub compiler: WasmCompiler,
}

fn number(key: &str, value: &str) -> Result<u64, String> {
    value
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("annotation {key}={value:?} is not a non-negative integer"))
}

fn positive(key: &str, value: &str) -> Result<u64, String> {
    match number(key, value)? {
        0 => Err(format!("annotation {key}=\"0\" is not allowed: give a value above 0, or omit it for the node default")),
        n => Ok(n),
    }
}

/// Computes the settings. `memory_limit` is the container's cgroup memory limit, if any:
/// linear memory defaults to it and never exceeds it.
pub fn plan_wasm(
    annotations: &HashMap<String, String>,
    memory_limit: Option<u64>,
    node: &NodeConfig,
) -> Result<(WasmPlan, Vec<String>), String> {
    let d = &node.wasm;
    let mut plan = WasmPlan {
        max_memory: memory_limit.unwrap_or(d.max_memory),
        timeout_ms: (d.timeout_ms > 0).then_some(d.timeout_ms),
        fuel: (d.fuel > 0).then_some(d.fuel),
        clock_resolution_ns: d.clock_resolution_ns,
        expose_service_account: false,
        module_cache: d.module_cache.clone(),
        host_seccomp: d.host_seccomp,
        max_module_bytes: d.max_module_bytes,
        compile_memory: memory_limit.map_or(d.compile_memory, |limit| limit.min(d.compile_memory)),
        compile_timeout_ms: d.compile_timeout_ms,
        cache_max_bytes: d.cache_max_bytes,
        compiler: d.compiler,
    };
    let mut clamps = Vec::new();
    let mut keys: Vec<_> = annotations.keys().filter(|k| k.starts_with(PREFIX)).collect();
    keys.sort();
    for key in keys {
        let value = &annotations[key];
        match &key[PREFIX.len()..] {
            // 0 is refused: no module runs in 0 bytes, and a tenant's 0 must not lift the node's
            // timeout, fuel budget or clock coarsening (omit the annotation for the default).
            "max-memory" => plan.max_memory = positive(key, value)?,
            "timeout-ms" => plan.timeout_ms = Some(positive(key, value)?),
            "fuel" => plan.fuel = Some(positive(key, value)?),
            "clock-resolution-ns" => plan.clock_resolution_ns = positive(key, value)?,
            "expose-service-account" => {
                plan.expose_service_account = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    other => return Err(format!("annotation {key}={other:?} is not \"true\" or \"false\"")),
                }
            }
            _ => {
                return Err(format!(
                    "unknown annotation {key:?} (known: max-memory, timeout-ms, fuel, clock-resolution-ns, expose-service-account)"
                ))
            }
        }
    }
    if let Some(limit) = memory_limit {
        if plan.max_memory > limit {
            clamps.push(format!(
                "wasm max-memory {} is above the container's memory limit; lowered to {limit}",
                plan.max_memory
            ));
            plan.max_memory = limit;
        }
    }
    if plan.clock_resolution_ns == 0 {
        plan.clock_resolution_ns = 1;
    }
    Ok((plan, clamps))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn node_defaults_apply_without_annotations() {
        let (p, _) = plan_wasm(&ann(&[]), None, &NodeConfig::default()).unwrap();
        assert_eq!(p.max_memory, 256 << 20);
        assert_eq!(p.timeout_ms, None);
        assert!(!p.expose_service_account);
    }

    #[test]
    fn memory_defaults_to_the_cgroup_limit_and_never_exceeds_it() {
        let (p, _) = plan_wasm(&ann(&[]), Some(64 << 20), &NodeConfig::default()).unwrap();
        assert_eq!(p.max_memory, 64 << 20);
        let (p, clamps) = plan_wasm(&ann(&[("io.isola.wasm.max-memory", "999999999999")]), Some(64 << 20), &NodeConfig::default()).unwrap();
        assert_eq!(p.max_memory, 64 << 20);
        assert_eq!(clamps.len(), 1);
    }

    #[test]
    fn compile_memory_is_the_node_bound_lowered_to_the_container_limit() {
        let (p, _) = plan_wasm(&ann(&[]), None, &NodeConfig::default()).unwrap();
        assert_eq!(p.compile_memory, 512 << 20);
        let (p, _) = plan_wasm(&ann(&[]), Some(64 << 20), &NodeConfig::default()).unwrap();
        assert_eq!(p.compile_memory, 64 << 20);
        let (p, _) = plan_wasm(&ann(&[]), Some(8 << 30), &NodeConfig::default()).unwrap();
        assert_eq!(p.compile_memory, 512 << 20, "a big pod limit never raises the node's bound");
    }

    #[test]
    fn annotations_override_defaults() {
        let a = ann(&[
            ("io.isola.wasm.max-memory", "1048576"),
            ("io.isola.wasm.timeout-ms", "500"),
            ("io.isola.wasm.fuel", "1000"),
            ("io.isola.wasm.clock-resolution-ns", "1000000"),
            ("io.isola.wasm.expose-service-account", "true"),
        ]);
        let (p, _) = plan_wasm(&a, None, &NodeConfig::default()).unwrap();
        assert_eq!((p.max_memory, p.timeout_ms, p.fuel, p.clock_resolution_ns), (1 << 20, Some(500), Some(1000), 1_000_000));
        assert!(p.expose_service_account);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_errors() {
        for (k, v, word) in [
            ("io.isola.wasm.timeout-ms", "soon", "timeout-ms"),
            ("io.isola.wasm.max-memory", "-1", "max-memory"),
            ("io.isola.wasm.expose-service-account", "yes", "expose-service-account"),
            ("io.isola.wasm.timeout", "5", "unknown annotation"),
            ("io.isola.wasm.max-memory", "0", "max-memory"),
            ("io.isola.wasm.timeout-ms", "0", "timeout-ms"),
            ("io.isola.wasm.fuel", "0", "fuel"),
            ("io.isola.wasm.clock-resolution-ns", "0", "clock-resolution-ns"),
        ] {
            let err = plan_wasm(&ann(&[(k, v)]), None, &NodeConfig::default()).unwrap_err();
            assert!(err.contains(word), "{err}");
        }
    }
}
