//! The node's policy file (`/etc/isola/config.toml`): what an operator may loosen or tighten.
//! Parsing is strict (unknown keys are errors) because a typo in a security setting must not
//! silently fall back to a default.

use serde::Deserialize;

use crate::caps;

/// Default location of the node policy.
pub const DEFAULT_PATH: &str = "/etc/isola/config.toml";

/// Node-wide policy. `NodeConfig::default()` is the built-in policy for untrusted code.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct NodeConfig {
    /// Run specs that ask for privileged powers (CAP_SYS_ADMIN, every device, no mount
    /// namespace). Default false: they are refused.
    pub allow_privileged: bool,
    /// Capabilities a container may hold; anything else in the spec is dropped (and logged).
    pub capability_ceiling: Vec<String>,
    /// Apply the built-in seccomp profile when a spec has none. Default true.
    pub default_seccomp: bool,
    /// Wasm sandbox defaults (annotations override them per container).
    pub wasm: WasmDefaults,
}

/// Node defaults for the wasm sandbox settings of the design's annotation table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct WasmDefaults {
    /// Linear memory ceiling in bytes when neither the annotation nor a cgroup limit gives one.
    pub max_memory: u64,
    /// Wall-clock limit in milliseconds; 0 means none.
    pub timeout_ms: u64,
    /// Instruction budget; 0 means unmetered.
    pub fuel: u64,
    /// Resolution of every clock the guest reads, in nanoseconds.
    pub clock_resolution_ns: u64,
    /// Where compiled modules are cached.
    pub module_cache: String,
    /// Confine the wasm host process with its own seccomp allow-list (no exec, sockets, fork
    /// or new executable mappings) once the guest is instantiated. Default true.
    pub host_seccomp: bool,
    /// Largest module (or component) file accepted, in bytes; a larger one is refused before
    /// it is read whole. Default 64 MiB.
    pub max_module_bytes: u64,
    /// Memory a module's compilation may use, in bytes, beyond what the runtime already holds;
    /// the container's memory limit lowers it. Compilation runs in a child process bounded by
    /// it (RLIMIT_DATA). Default 512 MiB.
    pub compile_memory: u64,
    /// Wall-clock limit of one compilation, in milliseconds. Default 30 000.
    pub compile_timeout_ms: u64,
    /// Size bound of the module cache in bytes; past it the least recently used artifacts are
    /// evicted. Default 2 GiB.
    pub cache_max_bytes: u64,
    /// Which compiler makes a module's machine code. Default `tiered`.
    pub compiler: WasmCompiler,
}

/// The node key `wasm.compiler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WasmCompiler {
    /// Cranelift only: a module the cache does not hold is compiled optimised before it starts
    /// (seconds for megabytes of code).
    Cranelift,
    /// Winch (wasmtime's baseline compiler) only: fast compiles, slower code.
    Winch,
    /// A module the cache holds optimised starts on that code; otherwise its first start
    /// compiles with Winch and runs at once while a detached, bounded, idle-priority process
    /// compiles it with Cranelift into the cache for later starts.
    Tiered,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            allow_privileged: false,
            capability_ceiling: caps::DEFAULT_CEILING.iter().map(|s| s.to_string()).collect(),
            default_seccomp: true,
            wasm: WasmDefaults::default(),
        }
    }
}

impl Default for WasmDefaults {
    fn default() -> Self {
        Self {
            max_memory: 256 << 20,
            timeout_ms: 0,
            fuel: 0,
            clock_resolution_ns: 100_000,
            module_cache: "/var/lib/isola/modules".into(),
            host_seccomp: true,
            max_module_bytes: 64 << 20,
            compile_memory: 512 << 20,
            compile_timeout_ms: 30_000,
            cache_max_bytes: 2 << 30,
            compiler: WasmCompiler::Tiered,
        }
    }
}

impl NodeConfig {
    /// Parses a node policy file's text; the error names the key or line at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))?;
        // serde reads a struct from an array too, by position (`wasm = [1024]` would set
        // max-memory): the `[wasm]` section must be a table.
        if table.get("wasm").is_some_and(|w| !w.is_table()) {
            return Err(format!("wasm: must be a table ([wasm]), not {}", table["wasm"].type_str()));
        }
        let config: NodeConfig = toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))?;
        let w = &config.wasm;
        for (key, value) in [
            ("max-module-bytes", w.max_module_bytes),
            ("compile-memory", w.compile_memory),
            ("compile-timeout-ms", w.compile_timeout_ms),
            ("cache-max-bytes", w.cache_max_bytes),
        ] {
            if value == 0 {
                return Err(format!("wasm.{key}: must be greater than 0"));
            }
        }
        for cap in &config.capability_ceiling {
            caps::parse(cap).map_err(|e| format!("capability-ceiling: {e}"))?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_builtin_policy() {
        assert_eq!(NodeConfig::parse("").unwrap(), NodeConfig::default());
    }

    #[test]
    fn settings_are_read() {
        let c = NodeConfig::parse(
            "allow-privileged = true\ncapability-ceiling = [\"CAP_KILL\"]\n[wasm]\ntimeout-ms = 5\n",
        )
        .unwrap();
        assert!(c.allow_privileged);
        assert_eq!(c.capability_ceiling, vec!["CAP_KILL"]);
        assert_eq!(c.wasm.timeout_ms, 5);
        assert!(c.default_seccomp);
    }

    #[test]
    fn the_compiler_is_tiered_unless_the_node_says_otherwise() {
        assert_eq!(NodeConfig::default().wasm.compiler, WasmCompiler::Tiered);
        for (text, compiler) in [("cranelift", WasmCompiler::Cranelift), ("winch", WasmCompiler::Winch), ("tiered", WasmCompiler::Tiered)] {
            assert_eq!(NodeConfig::parse(&format!("[wasm]\ncompiler = \"{text}\"")).unwrap().wasm.compiler, compiler);
        }
        let err = NodeConfig::parse("[wasm]\ncompiler = \"llvm\"").unwrap_err();
        assert!(err.contains("llvm") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        assert!(NodeConfig::parse("allow-privilegd = true").unwrap_err().contains("allow-privilegd"));
        assert!(NodeConfig::parse("allow-privileged = \"yes\"").is_err());
        assert!(NodeConfig::parse("capability-ceiling = [\"CAP_NOPE\"]").unwrap_err().contains("CAP_NOPE"));
        assert!(NodeConfig::parse("[[[").is_err());
        assert!(NodeConfig::parse("[wasm]\ncompile-memory = 0").unwrap_err().contains("compile-memory"));
        assert!(NodeConfig::parse("[wasm]\ncompile-timeout-ms = -1").is_err());
    }
}
