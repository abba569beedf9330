//! Fills the manifest placeholders (`{canary}`, `{canary_dir}`, `{port}`, `{target_file}`,
//! `{victim_pid}`) of a scenario's args. Pure: it must never invent a value for an unknown name.

use anyhow::{bail, Result};

/// The values a run offers; `None` means the oracle was not planted for this run.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub canary: Option<String>,
    pub canary_dir: Option<String>,
    pub port: Option<u16>,
    pub target_file: Option<String>,
    pub victim_pid: Option<u32>,
}

/// Replaces every `{name}` in `arg`; an unknown or unplanted name is an error naming it.
pub fn fill(arg: &str, v: &Values) -> Result<String> {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            bail!("unterminated placeholder in {arg:?}");
        };
        let name = &rest[start + 1..start + len];
        let value = match name {
            "canary" => v.canary.clone(),
            "canary_dir" => v.canary_dir.clone(),
            "port" => v.port.map(|p| p.to_string()),
            "target_file" => v.target_file.clone(),
            "victim_pid" => v.victim_pid.map(|p| p.to_string()),
            other => bail!("unknown placeholder {{{other}}} in {arg:?}"),
        };
        match value {
            Some(val) => out.push_str(&val),
            None => bail!("placeholder {{{name}}} has no value in this run"),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Fills every arg.
pub fn fill_all(args: &[String], v: &Values) -> Result<Vec<String>> {
    args.iter().map(|a| fill(a, v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            canary: Some("/var/tmp/c/canary".into()),
            canary_dir: Some("/var/tmp/c".into()),
            port: Some(4242),
            target_file: Some("/var/tmp/c/sum".into()),
            victim_pid: Some(77),
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let v = values();
        assert_eq!(fill("{canary}", &v).unwrap(), "/var/tmp/c/canary");
        assert_eq!(fill("--dir={canary_dir}/x", &v).unwrap(), "--dir=/var/tmp/c/x");
        assert_eq!(fill("127.0.0.1:{port}", &v).unwrap(), "127.0.0.1:4242");
        assert_eq!(fill("{target_file}", &v).unwrap(), "/var/tmp/c/sum");
        assert_eq!(fill("{victim_pid}-{port}", &v).unwrap(), "77-4242");
        assert_eq!(fill("plain", &v).unwrap(), "plain");
    }

    #[test]
    fn unknown_unplanted_or_broken_placeholders_fail() {
        let v = values();
        assert!(fill("{nope}", &v).is_err());
        assert!(fill("{canary", &v).is_err());
        assert!(fill("{victim_pid}", &Values::default()).is_err());
    }
}
