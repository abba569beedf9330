//! Attack scenario manifests (`payloads/attacks/<id>.toml`), parsed as the payload contract in
//! `payloads/README.md` describes. Pure parsing: it must never build, run or touch anything else.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// How the harness decides a scenario's outcome (payloads/README.md, "Oracles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Oracle {
    Canary,
    CanaryEnv,
    Listener,
    Checksum,
    Resource,
    Errno,
    Exit,
    /// The wait status of the process the harness started (native: the payload; OCI runtimes and
    /// wasm CLIs: the runtime): killed by a signal = the attack took its host process down.
    Crash,
}

/// One scenario's manifest. Unknown keys are tolerated (authors may add notes).
#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub id: String,
    pub group: String,
    pub title: String,
    /// S (safe anywhere) or P (probe only); shown in reports.
    #[serde(default = "default_safety")]
    #[allow(dead_code)]
    pub safety: String,
    pub sources: Vec<String>,
    #[serde(default)]
    pub libs: Vec<String>,
    #[serde(default = "yes")]
    pub wasm: bool,
    pub oracle: Oracle,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Extra link flags for the wasm build only (e.g. `-Wl,--growable-table`).
    #[serde(default)]
    pub wasm_ldflags: Vec<String>,
    /// Directory holding the manifest (filled in by `load_dir`).
    #[serde(skip)]
    pub dir: PathBuf,
}

fn default_safety() -> String {
    "S".into()
}
fn yes() -> bool {
    true
}
fn default_timeout() -> u64 {
    5000
}

/// The nine catalogue groups, in report order.
pub const GROUPS: &[&str] = &[
    "filesystem",
    "secrets",
    "network",
    "privilege",
    "kernel-info",
    "resources",
    "runtime-cve",
    "wasm",
    "supply-chain",
];

impl Scenario {
    /// Parses one manifest's text; `dir` is where its sources live.
    pub fn parse(text: &str, dir: &Path) -> Result<Self> {
        let mut s: Scenario = toml::from_str(text)?;
        if s.sources.is_empty() {
            bail!("{}: no sources", s.id);
        }
        if s.timeout_ms == 0 || s.timeout_ms > 120_000 {
            bail!("{}: timeout_ms {} outside 1..=120000", s.id, s.timeout_ms);
        }
        s.dir = dir.to_path_buf();
        Ok(s)
    }

    /// True when the scenario's args mention `{victim_pid}` (so a victim process is needed).
    pub fn wants_victim(&self) -> bool {
        self.args.iter().any(|a| a.contains("{victim_pid}"))
    }
}

/// Loads every `*.toml` of `dir`, sorted by group order then id. Bad manifests are errors
/// that name the file, so a typo is never silently skipped.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let s = Scenario::parse(&text, dir).with_context(|| format!("manifest {}", path.display()))?;
        out.push(s);
    }
    out.sort_by_key(|s| (group_rank(&s.group), s.id.clone()));
    Ok(out)
}

/// Position of a group in report order (unknown groups last).
pub fn group_rank(group: &str) -> usize {
    GROUPS.iter().position(|g| *g == group).unwrap_or(GROUPS.len())
}

/// Keeps the scenarios whose id is listed (case-insensitive); an empty list keeps all.
pub fn select(all: Vec<Scenario>, only: &[String]) -> Result<Vec<Scenario>> {
    if only.is_empty() {
        return Ok(all);
    }
    for want in only {
        if !all.iter().any(|s| s.id.eq_ignore_ascii_case(want)) {
            bail!("--only: no scenario with id {want}");
        }
    }
    Ok(all.into_iter().filter(|s| only.iter().any(|w| w.eq_ignore_ascii_case(&s.id))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_from_the_contract_parses() {
        let text = r#"
id = "FS-01"
group = "filesystem"
title = "dot-dot"
safety = "S"
sources = ["fs-01.c"]
libs = []
wasm = true
oracle = "canary-env"
args = ["{canary}"]
timeout_ms = 5000
"#;
        let s = Scenario::parse(text, Path::new("/x")).unwrap();
        assert_eq!(s.oracle, Oracle::CanaryEnv);
        assert_eq!(s.args, vec!["{canary}"]);
        assert!(!s.wants_victim());
    }

    #[test]
    fn unknown_oracle_is_an_error() {
        let text = "id='X'\ngroup='wasm'\ntitle='t'\nsources=['x.c']\noracle='vibes'\n";
        assert!(Scenario::parse(text, Path::new("/x")).is_err());
    }
}
