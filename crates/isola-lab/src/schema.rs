//! The JSON the lab writes (issue 4: attack matrix; issue 5: benchmarks; issue 10: stress). Scripts rely on these
//! names: never rename a field; new fields must be optional and skipped when absent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::verdict::Verdict;

/// `isola-lab attack --json FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackReport {
    pub targets: Vec<String>,
    pub scenarios: Vec<ScenarioResult>,
    /// `plain` or `hardened` (extra field, for the report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub id: String,
    pub group: String,
    pub title: String,
    /// `ok` when the attack succeeded against `native`, else `failed` (a broken probe).
    pub control: String,
    pub results: BTreeMap<String, Cell>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub verdict: Verdict,
    pub evidence: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_ms: Option<f64>,
}

/// `isola-lab bench SUITE --json FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub suite: String,
    pub machine: Machine,
    pub results: Vec<BenchResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    pub benchmark: String,
    pub target: String,
    /// `warm`/`cold` for startup (and `precompiled` for the wasmtime CLI); absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub runs: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p10_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_ms: Option<f64>,
    /// Sub-millisecond figures (the startup suite's in-process floor), in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p10_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_us: Option<f64>,
    /// Memory suite: per idle sandbox, medians over runs (KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_kib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss_kib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uss_kib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kib: Option<f64>,
    /// Density suite: sandboxes started, host memory delta and summed PSS of all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandboxes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_delta_kib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pss_kib: Option<f64>,
    /// Startup against code size: bytes of the module's code section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_bytes: Option<usize>,
    /// Compute suite: the kernel's checksum line, and the ratio to native from medians.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_to_native: Option<f64>,
    /// Why this target produced no figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The machine a benchmark ran on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub memory_kib: u64,
    pub os: String,
    /// Version line of every runtime and tool involved (isola, runc, crun, wasmtime, clang, ...).
    pub versions: BTreeMap<String, String>,
    pub date: String,
}

/// `isola-lab stress --json FILE` (issue 10): create/start/wait/delete loops per target, with
/// leak accounting before and after each target, and the lifecycle races.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressReport {
    pub machine: Machine,
    /// The program every lifecycle runs, and which build each kind of target gets.
    pub workload: String,
    /// Lifecycles per target, workers in parallel per target, rounds the targets are interleaved in.
    pub lifecycles: usize,
    pub parallel: usize,
    pub rounds: usize,
    pub results: Vec<StressResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub races: Vec<RaceResult>,
}

/// One target's row of the stress table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StressResult {
    pub target: String,
    /// `native` (static binary) or `wasm` (wasm32-wasi module).
    pub build: String,
    /// Lifecycles attempted, completed (exit 0, output seen, deleted), failed.
    pub lifecycles: usize,
    pub ok: usize,
    pub failures: usize,
    /// Wall time of the target's measured rounds (seconds).
    pub wall_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycles_per_s: Option<f64>,
    /// create + start + wait + delete of one container (milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    /// lifecycles/s of this target over runc's (the issue's target: >= 1.5 for isola).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_to_runc: Option<f64>,
    /// The first failures, each naming the container, the step and the runtime's last line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// What the target left behind (empty: no leak).
    #[serde(default)]
    pub leaks: Vec<String>,
    /// Before/after figures of the leak accounting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounting: Vec<Counter>,
    /// Why the target did not run (skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One figure of the leak accounting, read before and after a target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    pub name: String,
    pub before: u64,
    pub after: u64,
    /// Counts the whole host (other activity moves it): reported, never a failure by itself.
    #[serde(default)]
    pub host_wide: bool,
}

/// One race, run `runs` times against one target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RaceResult {
    pub target: String,
    /// `create-create`, `delete-start` or `kill-delete`.
    pub race: String,
    pub runs: usize,
    pub failures: usize,
    /// How the racers ended, counted (e.g. `start ok, delete error`).
    #[serde(default)]
    pub outcomes: BTreeMap<String, usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    #[serde(default)]
    pub leaks: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_json_round_trips_with_the_issue_names() {
        let mut results = BTreeMap::new();
        results.insert("native".to_string(), Cell { verdict: Verdict::Escaped, evidence: "token".into(), wall_ms: None });
        results.insert("isola-wasm".to_string(), Cell { verdict: Verdict::NotExpressible, evidence: "stub".into(), wall_ms: Some(2.0) });
        let r = AttackReport {
            targets: vec!["native".into(), "isola-wasm".into()],
            scenarios: vec![ScenarioResult { id: "FS-01".into(), group: "filesystem".into(), title: "t".into(), control: "ok".into(), results }],
            profile: None,
        };
        let text = serde_json::to_string(&r).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["scenarios"][0]["results"]["native"]["verdict"], "escaped");
        assert_eq!(v["scenarios"][0]["results"]["isola-wasm"]["verdict"], "not-expressible");
        assert_eq!(v["scenarios"][0]["control"], "ok");
        assert!(v.get("profile").is_none());
        assert_eq!(serde_json::from_str::<AttackReport>(&text).unwrap(), r);
    }

    #[test]
    fn bench_json_round_trips_with_the_issue_names() {
        let r = BenchReport {
            suite: "startup".into(),
            machine: Machine { cores: 2, ..Default::default() },
            results: vec![BenchResult {
                benchmark: "hello".into(),
                target: "isola-wasm".into(),
                variant: Some("warm".into()),
                runs: 30,
                median_ms: Some(1.9),
                p10_ms: Some(1.7),
                p90_ms: Some(2.4),
                ..Default::default()
            }],
        };
        let text = serde_json::to_string(&r).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let row = &v["results"][0];
        assert_eq!(row["variant"], "warm");
        assert_eq!(row["median_ms"], 1.9);
        assert!(row.get("uss_kib").is_none() && row.get("error").is_none());
        assert_eq!(serde_json::from_str::<BenchReport>(&text).unwrap(), r);
    }

    #[test]
    fn stress_json_round_trips_with_the_issue_names() {
        let r = StressReport {
            machine: Machine::default(),
            workload: "hello".into(),
            lifecycles: 50,
            parallel: 4,
            rounds: 1,
            results: vec![StressResult {
                target: "isola-wasm".into(),
                build: "wasm".into(),
                lifecycles: 50,
                ok: 50,
                lifecycles_per_s: Some(61.5),
                p50_ms: Some(40.0),
                p95_ms: Some(70.0),
                accounting: vec![Counter { name: "lab fds".into(), before: 5, after: 5, host_wide: false }],
                ..Default::default()
            }],
            races: vec![RaceResult { target: "isola-wasm".into(), race: "create-create".into(), runs: 20, ..Default::default() }],
        };
        let text = serde_json::to_string(&r).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["results"][0]["lifecycles_per_s"], 61.5);
        assert_eq!(v["results"][0]["leaks"], serde_json::json!([]), "an empty leak list is written: no leak");
        assert!(v["results"][0].get("errors").is_none());
        assert_eq!(v["races"][0]["race"], "create-create");
        assert_eq!(serde_json::from_str::<StressReport>(&text).unwrap(), r);
    }
}
