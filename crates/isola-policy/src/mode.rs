//! Which layer runs a container: Linux, or wasm inside the container. Chosen from annotations,
//! crun-compatible (`module.wasm.image/variant`, `run.oci.handler`) plus `io.isola.mode`.
//! The `-smart` forms defer to the entrypoint's magic bytes, which the caller reads.

use std::collections::HashMap;

/// What the annotations ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmSelection {
    /// A Linux container.
    Linux,
    /// A wasm module, whatever the entrypoint looks like.
    Wasm,
    /// Wasm only if `process.args[0]` inside the rootfs starts with `\0asm`.
    Smart,
}

/// The layer a container finally runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Linux,
    Wasm,
}

/// Magic bytes of every wasm binary (module or component).
pub const WASM_MAGIC: &[u8; 4] = b"\0asm";

const SANDBOX_MARKERS: &[(&str, &str)] = &[
    ("io.kubernetes.cri.container-type", "sandbox"),
    ("io.kubernetes.cri-o.ContainerType", "sandbox"),
];

/// Reads the selection from a spec's annotations. An isola annotation with an unknown value is
/// an error; crun's annotations with values crun ignores are ignored here too.
pub fn select(annotations: &HashMap<String, String>) -> Result<WasmSelection, String> {
    if SANDBOX_MARKERS.iter().any(|(k, v)| annotations.get(*k).map(String::as_str) == Some(*v)) {
        return Ok(WasmSelection::Linux);
    }
    if let Some(mode) = annotations.get("io.isola.mode") {
        return match mode.as_str() {
            "wasm" => Ok(WasmSelection::Wasm),
            "auto" => Ok(WasmSelection::Smart),
            "linux" => Ok(WasmSelection::Linux),
            other => Err(format!(
                "annotation io.isola.mode={other:?} is not one of \"wasm\", \"auto\", \"linux\""
            )),
        };
    }
    let crun = [
        ("module.wasm.image/variant", "compat", "compat-smart"),
        ("run.oci.handler", "wasm", "wasm-smart"),
    ];
    for (key, always, smart) in crun {
        match annotations.get(key).map(String::as_str) {
            Some(v) if v == always => return Ok(WasmSelection::Wasm),
            Some(v) if v == smart => return Ok(WasmSelection::Smart),
            _ => {}
        }
    }
    Ok(WasmSelection::Linux)
}

impl WasmSelection {
    /// Settles the mode; `entrypoint_is_wasm` is only called for `Smart`.
    pub fn resolve(self, entrypoint_is_wasm: impl FnOnce() -> bool) -> Mode {
        match self {
            WasmSelection::Linux => Mode::Linux,
            WasmSelection::Wasm => Mode::Wasm,
            WasmSelection::Smart if entrypoint_is_wasm() => Mode::Wasm,
            WasmSelection::Smart => Mode::Linux,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn crun_and_isola_annotations_select_wasm() {
        let table = [
            (vec![], WasmSelection::Linux),
            (vec![("module.wasm.image/variant", "compat")], WasmSelection::Wasm),
            (vec![("module.wasm.image/variant", "compat-smart")], WasmSelection::Smart),
            (vec![("run.oci.handler", "wasm")], WasmSelection::Wasm),
            (vec![("run.oci.handler", "wasm-smart")], WasmSelection::Smart),
            (vec![("io.isola.mode", "wasm")], WasmSelection::Wasm),
            (vec![("io.isola.mode", "auto")], WasmSelection::Smart),
            (vec![("io.isola.mode", "linux"), ("run.oci.handler", "wasm")], WasmSelection::Linux),
            (vec![("run.oci.handler", "krun")], WasmSelection::Linux),
        ];
        for (pairs, want) in table {
            assert_eq!(select(&ann(&pairs)).unwrap(), want, "{pairs:?}");
        }
    }

    #[test]
    fn the_pause_container_is_always_linux() {
        let a = ann(&[("io.kubernetes.cri.container-type", "sandbox"), ("io.isola.mode", "wasm")]);
        assert_eq!(select(&a).unwrap(), WasmSelection::Linux);
    }

    #[test]
    fn unknown_isola_mode_is_an_error() {
        assert!(select(&ann(&[("io.isola.mode", "wasmm")])).unwrap_err().contains("wasmm"));
    }

    #[test]
    fn smart_defers_to_the_entrypoint() {
        assert_eq!(WasmSelection::Smart.resolve(|| true), Mode::Wasm);
        assert_eq!(WasmSelection::Smart.resolve(|| false), Mode::Linux);
        assert_eq!(WasmSelection::Wasm.resolve(|| unreachable!()), Mode::Wasm);
    }
}
