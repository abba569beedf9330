//! The handler's options: containerd passes the `options` table of a runtime it does not know
//! as `runtimeoptions.v1.Options`: containerd 1.7 and 2.x the table itself as TOML text, unless
//! it sets `ConfigPath` (a TOML file, read here); containerd 1.6 only `ConfigPath`. Keys, as the
//! runc shim's: `Root` (state root, default /run/isola as `isola install`'s; `<Root>/<namespace>`
//! is the runtime's `--root`), `SystemdCgroup`, and isola's `NodeConfig` (node policy file;
//! default as the CLI's).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default state root: `isola install`'s default `--runtime-root`, so both handlers agree.
pub const DEFAULT_ROOT: &str = "/run/isola";

/// The options of one container, kept in its bundle for `delete` after a lost shim.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShimOptions {
    #[serde(rename = "Root", default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    #[serde(rename = "SystemdCgroup", default)]
    pub systemd_cgroup: bool,
    #[serde(rename = "NodeConfig", default, skip_serializing_if = "Option::is_none")]
    pub node_config: Option<PathBuf>,
    /// The table's own `ConfigPath` (containerd 1.7+ passes it with the body; it means nothing
    /// to the shim then).
    #[serde(rename = "ConfigPath", default, skip_serializing)]
    pub config_path: Option<PathBuf>,
}

/// The file in a bundle that keeps a container's options.
pub const BUNDLE_FILE: &str = "isola-shim-options.json";

impl ShimOptions {
    /// Decodes `CreateTaskRequest.options` (absent: defaults).
    pub fn from_any(type_url: &str, value: &[u8]) -> Result<Self, String> {
        if type_url.is_empty() && value.is_empty() {
            return Ok(Self::default());
        }
        let short = type_url.rsplit('/').next().unwrap_or_default();
        if short != "runtimeoptions.v1.Options" {
            return Err(format!("runtime options of type {type_url:?}: expected runtimeoptions.v1.Options (a plain options table)"));
        }
        let (config_path, config_body) = decode_runtime_options(value)?;
        if !config_body.trim().is_empty() || config_path.is_empty() {
            return Self::parse(&config_body);
        }
        let text = std::fs::read_to_string(&config_path).map_err(|e| format!("runtime options ConfigPath {config_path}: {e}"))?;
        Self::parse(&text).map_err(|e| format!("{config_path}: {e}"))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("runtime options: {}", e.message()))
    }

    /// The runtime's state root for a containerd namespace.
    pub fn state_root(&self, namespace: &str) -> PathBuf {
        self.root.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT)).join(namespace)
    }

    pub fn runtime(&self, namespace: &str) -> Result<isola_runtime::Runtime, String> {
        let default = PathBuf::from(isola_policy::node::DEFAULT_PATH);
        let node = match &self.node_config {
            Some(p) => read_node(p)?,
            None if default.exists() => read_node(&default)?,
            None => isola_policy::NodeConfig::default(),
        };
        isola_runtime::Runtime::new(self.state_root(namespace), node, self.systemd_cgroup).map_err(|e| e.to_string())
    }

    pub fn save(&self, bundle: &Path) -> Result<(), String> {
        let path = bundle.join(BUNDLE_FILE);
        std::fs::write(&path, serde_json::to_vec(self).expect("options serialize")).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn load(bundle: &Path) -> Result<Self, String> {
        let path = bundle.join(BUNDLE_FILE);
        let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn read_node(path: &Path) -> Result<isola_policy::NodeConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("node policy {}: {e}", path.display()))?;
    isola_policy::NodeConfig::parse(&text).map_err(|e| format!("node policy {}: {e}", path.display()))
}

/// `runtimeoptions.v1.Options { type_url = 1; config_path = 2; config_body = 3; }`: three
/// strings, read with the protobuf wire format (fields of other types are refused).
fn decode_runtime_options(mut b: &[u8]) -> Result<(String, String), String> {
    let (mut path, mut body) = (String::new(), String::new());
    while !b.is_empty() {
        let key = varint(&mut b)?;
        if key & 7 != 2 {
            return Err(format!("runtime options: field {} has wire type {}, expected a string", key >> 3, key & 7));
        }
        let len = usize::try_from(varint(&mut b)?).map_err(|_| "runtime options: length overflows".to_string())?;
        if len > b.len() {
            return Err("runtime options: truncated".into());
        }
        let (field, rest) = b.split_at(len);
        b = rest;
        let text = || String::from_utf8(field.to_vec()).map_err(|_| format!("runtime options: field {} is not UTF-8", key >> 3));
        match key >> 3 {
            2 => path = text()?,
            3 => body = text()?,
            _ => {}
        }
    }
    Ok((path, body))
}

fn varint(b: &mut &[u8]) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first().ok_or("runtime options: truncated")?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("runtime options: varint too long".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(fields: &[(u8, &str)]) -> Vec<u8> {
        let mut v = Vec::new();
        for (n, s) in fields {
            v.push(n << 3 | 2);
            v.push(s.len() as u8);
            v.extend_from_slice(s.as_bytes());
        }
        v
    }

    #[test]
    fn options_table_from_containerd() {
        let body = "Root = \"/run/x\"\nSystemdCgroup = true\n";
        let o = ShimOptions::from_any("runtimeoptions.v1.Options", &encode(&[(1, "t"), (3, body)])).unwrap();
        assert_eq!(o.root.as_deref(), Some(Path::new("/run/x")));
        assert!(o.systemd_cgroup);
        assert_eq!(o.state_root("k8s.io"), Path::new("/run/x/k8s.io"));
        assert_eq!(ShimOptions::from_any("", &[]).unwrap(), ShimOptions::default());
        assert_eq!(ShimOptions::default().state_root("default"), Path::new("/run/isola/default"));
        // containerd 1.6: only ConfigPath.
        let dir = std::env::temp_dir().join(format!("isola-shim-options-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("shim.toml");
        std::fs::write(&file, "Root = \"/run/y\"\n").unwrap();
        let o = ShimOptions::from_any("runtimeoptions.v1.Options", &encode(&[(2, file.to_str().unwrap())])).unwrap();
        assert_eq!(o.root.as_deref(), Some(Path::new("/run/y")));
        std::fs::write(&file, "Rot = 1\n").unwrap();
        let e = ShimOptions::from_any("runtimeoptions.v1.Options", &encode(&[(2, file.to_str().unwrap())])).unwrap_err();
        assert!(e.contains("shim.toml") && e.contains("Rot"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_options_are_named() {
        let e = ShimOptions::from_any("containerd.runc.v1.Options", &[]).unwrap_err();
        assert!(e.contains("containerd.runc.v1.Options"), "{e}");
        let e = ShimOptions::from_any("runtimeoptions.v1.Options", &encode(&[(3, "Rooot = 1")])).unwrap_err();
        assert!(e.contains("Rooot"), "{e}");
        let e = ShimOptions::from_any("runtimeoptions.v1.Options", &[0x1a, 9, b'a']).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let e = ShimOptions::from_any("runtimeoptions.v1.Options", &[0x08, 1]).unwrap_err();
        assert!(e.contains("wire type"), "{e}");
    }
}
