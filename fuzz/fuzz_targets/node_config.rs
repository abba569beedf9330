//! Fuzzes `NodeConfig::parse`, the node policy file (`/etc/isola/config.toml`). Asserts that a
//! refusal is a one-line `Err` (never a panic), and that an accepted file means exactly what a
//! plain TOML reader sees: every key known, every value the one written, defaults for the rest.

#![no_main]

use isola_policy::node::WasmDefaults;
use isola_policy::NodeConfig;
use libfuzzer_sys::fuzz_target;

const TOP: &[&str] = &["allow-privileged", "capability-ceiling", "default-seccomp", "wasm"];
const WASM: &[&str] = &[
    "max-memory",
    "timeout-ms",
    "fuel",
    "clock-resolution-ns",
    "module-cache",
    "host-seccomp",
    "max-module-bytes",
    "compile-memory",
    "compile-timeout-ms",
    "cache-max-bytes",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let config = match NodeConfig::parse(text) {
        Ok(c) => c,
        Err(e) => {
            assert!(!e.contains('\n'), "a refusal is one line: {e:?}");
            return;
        }
    };
    let table: toml::Table = toml::from_str(text).expect("NodeConfig::parse accepted text a TOML reader refuses");
    let defaults = NodeConfig::default();
    for key in table.keys() {
        assert!(TOP.contains(&key.as_str()), "unknown key {key:?} was accepted");
    }
    let bool_at = |k: &str, d: bool| table.get(k).map_or(d, |v| v.as_bool().expect("a non-bool was accepted"));
    assert_eq!(config.allow_privileged, bool_at("allow-privileged", defaults.allow_privileged));
    assert_eq!(config.default_seccomp, bool_at("default-seccomp", defaults.default_seccomp));
    match table.get("capability-ceiling") {
        None => assert_eq!(config.capability_ceiling, defaults.capability_ceiling),
        Some(v) => {
            let want: Vec<&str> = v.as_array().expect("array").iter().map(|s| s.as_str().expect("string")).collect();
            assert_eq!(config.capability_ceiling, want);
        }
    }
    for cap in &config.capability_ceiling {
        assert!(isola_policy::caps::parse(cap).is_ok(), "an unknown capability {cap:?} was accepted");
    }
    let d = WasmDefaults::default();
    let wasm = table.get("wasm").map(|w| w.as_table().expect("[wasm] is a table").clone()).unwrap_or_default();
    for key in wasm.keys() {
        assert!(WASM.contains(&key.as_str()), "unknown key wasm.{key} was accepted");
    }
    let int = |k: &str, d: u64| wasm.get(k).map_or(d, |v| u64::try_from(v.as_integer().expect("integer")).expect("non-negative"));
    assert_eq!(config.wasm.max_memory, int("max-memory", d.max_memory));
    assert_eq!(config.wasm.timeout_ms, int("timeout-ms", d.timeout_ms));
    assert_eq!(config.wasm.fuel, int("fuel", d.fuel));
    assert_eq!(config.wasm.clock_resolution_ns, int("clock-resolution-ns", d.clock_resolution_ns));
    for (key, value, default) in [
        ("max-module-bytes", config.wasm.max_module_bytes, d.max_module_bytes),
        ("compile-memory", config.wasm.compile_memory, d.compile_memory),
        ("compile-timeout-ms", config.wasm.compile_timeout_ms, d.compile_timeout_ms),
        ("cache-max-bytes", config.wasm.cache_max_bytes, d.cache_max_bytes),
    ] {
        assert_eq!(value, int(key, default));
        assert!(value > 0, "wasm.{key} = 0 was accepted");
    }
    assert_eq!(config.wasm.host_seccomp, wasm.get("host-seccomp").map_or(d.host_seccomp, |v| v.as_bool().expect("bool")));
    assert_eq!(
        config.wasm.module_cache,
        wasm.get("module-cache").map_or(d.module_cache.clone(), |v| v.as_str().expect("string").to_owned())
    );
    // Parsing is a function of the text.
    assert_eq!(NodeConfig::parse(text).ok(), Some(config));
});
