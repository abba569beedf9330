//! isola-lab: builds one corpus of C payloads twice (static native, wasm32-wasi), runs them under
//! every isolation target side by side, and writes an attack matrix and benchmark report. It drives
//! runtimes only through their command lines, and must never leave a container behind.

mod attack;
mod bench;
mod bundle;
mod chart;
mod compile;
mod genwasm;
mod lab;
mod load;
mod leak;
mod machine;
mod manifest;
mod oracle;
mod placeholder;
mod progress;
mod report;
mod schema;
mod stats;
mod stress;
mod target;
mod verdict;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use crate::bundle::Profile;
use crate::lab::Lab;
use crate::target::Kind;

#[derive(Parser)]
#[command(name = "isola-lab", version, about = "Attack matrix and benchmarks: one C corpus, every isolation target, side by side")]
struct Cli {
    /// The isola binary (default: <repo>/target/release/isola, else `isola` on PATH).
    #[arg(long, global = true)]
    isola: Option<PathBuf>,
    /// Work directory (builds, bundles, canaries).
    #[arg(long, global = true, default_value = "/var/tmp/isola-lab")]
    work: PathBuf,
    /// Payload corpus (default: <repo>/payloads).
    #[arg(long, global = true)]
    payloads: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build every payload (attacks and bench kernels) for native and wasm32-wasi.
    Build,
    /// Run the attack scenarios against the targets and print the matrix.
    Attack {
        /// Comma-separated targets, or `all` (native always runs: it is the positive control).
        #[arg(long, default_value = "all")]
        targets: String,
        /// Comma-separated scenario ids (default: all).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        #[arg(long, value_enum, default_value = "plain")]
        profile: Profile,
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write attack-<profile>.json there and (re)build the HTML report.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Run one benchmark suite: startup, compute, memory or density.
    Bench {
        suite: bench::Suite,
        /// Comma-separated targets (default: the suite's own list).
        #[arg(long)]
        targets: Option<String>,
        /// Timed runs per target (default per suite).
        #[arg(long)]
        runs: Option<usize>,
        /// Sandboxes started at once (density).
        #[arg(long, default_value_t = 100)]
        n: usize,
        /// Compute kernels to run (default: all of payloads/bench).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Startup: the curve against code size has one generated point (100 KB), as in CI.
        #[arg(long)]
        smoke: bool,
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// create/start/wait/delete loops through each runtime's command line, P workers in parallel
    /// per target (targets interleaved in rounds), with leak accounting before and after each
    /// target's round, then the lifecycle races. Fails (exit 1, after writing the JSON and the
    /// report) on any failed lifecycle, any leak, and any race that panicked or left something.
    Stress {
        #[arg(long, default_value = stress::DEFAULT_TARGETS)]
        targets: String,
        /// Measured lifecycles per target.
        #[arg(long, default_value_t = 200)]
        lifecycles: usize,
        /// Workers per target.
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        /// Rounds the targets are interleaved in (A B C D, A B C D, ...).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Runs of each race (create-create, delete-start, kill-delete) per target; 0 = none.
        #[arg(long, default_value_t = 20)]
        races: usize,
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write stress.json there and (re)build the HTML report.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Build the HTML report and summary.md from the JSON files of DIR.
    Report { dir: PathBuf },
    /// Build, run the attack suite (plain and hardened) and every bench suite, write the report.
    /// Fails (exit 1) after writing the report when a compute checksum disagrees with native.
    All {
        /// Publication-size runs (more runs, density N=100).
        #[arg(long)]
        full: bool,
        /// CI size (a few minutes on 2 cores): the whole attack suite against native,
        /// isola-container and isola-wasm with the hardened profile only, then every bench suite
        /// against those three targets (startup 3 runs, compute 1 run, memory 1 run, density
        /// N=10), then `stress` against isola-container and isola-wasm (50 lifecycles, 4 in
        /// parallel, 5 runs of each race). Also fails when isola-wasm lets any attack through
        /// (escaped or leaked), when native or isola ends an attack or a benchmark in an error,
        /// and when a stress lifecycle or race of isola fails or leaks.
        #[arg(long, conflicts_with = "full")]
        smoke: bool,
        #[arg(long, default_value = "/var/tmp/isola-lab/report")]
        report: PathBuf,
    },
    /// (internal) A victim process holding a canary token in memory.
    #[command(hide = true)]
    Victim { token: String },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("isola-lab: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Cmd::Victim { token } = &cli.command {
        oracle::victim_main(token);
    }
    let lab = Lab::new(cli.isola, cli.work, cli.payloads)?;
    target::setup_safety_cgroups();
    // A closure, so that an early `?` or `bail!` of any command still reaches the cleanup below
    // (the safety cgroups and run dirs were left behind by every failing command before).
    let result = (|| -> Result<()> { match cli.command {
        Cmd::Build => build(&lab),
        Cmd::Attack { targets, only, profile, json, report } => {
            let r = attack_cmd(&lab, &targets, &only, profile)?;
            print!("{}", report::attack_markdown(&r));
            write_json(json.as_deref(), &r)?;
            if let Some(dir) = report {
                write_json(Some(&dir.join(format!("attack-{}.json", profile.as_str()))), &r)?;
                report::write(&dir)?;
            }
            Ok(())
        }
        Cmd::Bench { suite, targets, runs, n, only, smoke, json, report } => {
            let kinds = match targets {
                Some(t) => target::parse_list(&t)?,
                None => suite.default_targets(),
            };
            let opts = bench::Options { runs: runs.unwrap_or(suite.default_runs()), density_n: n, only, smoke };
            let r = bench::run(&lab, suite, &kinds, &opts)?;
            print!("{}", report::bench_markdown(&r));
            write_json(json.as_deref(), &r)?;
            if let Some(dir) = report {
                write_json(Some(&dir.join(format!("bench-{}.json", suite.name()))), &r)?;
                report::write(&dir)?;
            }
            if let Some(e) = r.results.iter().find_map(|x| x.error.as_ref().filter(|e| e.starts_with("checksum mismatch"))) {
                bail!("compute: {e}");
            }
            Ok(())
        }
        Cmd::Stress { targets, lifecycles, parallel, rounds, races, json, report } => {
            let kinds = target::parse_list(&targets)?;
            let opts = stress::Options { lifecycles, parallel, rounds, race_runs: races };
            let started = std::time::Instant::now();
            let r = stress::run(&lab, &kinds, &opts)?;
            print!("{}", report::stress_markdown(&r));
            eprintln!("isola-lab stress: {:.0} s", started.elapsed().as_secs_f64());
            write_json(json.as_deref(), &r)?;
            if let Some(dir) = report {
                write_json(Some(&dir.join("stress.json")), &r)?;
                report::write(&dir)?;
            }
            let problems = stress::problems(&r);
            if !problems.is_empty() {
                bail!("{}", problems.join("; "));
            }
            Ok(())
        }
        Cmd::Report { dir } => report::write(&dir).map(|p| println!("report: {}", p.display())),
        Cmd::All { full, smoke, report } => all(&lab, Size::of(full, smoke), &report),
        Cmd::Victim { .. } => unreachable!("handled above"),
    } })();
    lab.cleanup();
    target::remove_safety_cgroups();
    result
}

fn build(lab: &Lab) -> Result<()> {
    let b = lab.builder()?;
    let scenarios = manifest::load_dir(&lab.payloads.join("attacks"))?;
    let mut failed = 0;
    for s in &scenarios {
        let a = b.build_scenario(s)?;
        report_build(&a, &mut failed, s.wasm);
    }
    for src in compile::c_files(&lab.payloads.join("bench")).iter().chain([bench::hello_source(), bench::idle_source()].iter()) {
        let a = b.build_single(src)?;
        report_build(&a, &mut failed, true);
    }
    println!("built into {} ({failed} build(s) failed)", b.dir.display());
    Ok(())
}

fn report_build(a: &compile::Artifact, failed: &mut usize, wasm_expected: bool) {
    let n = if a.native.is_ok() { "ok".to_string() } else { *failed += 1; format!("FAILED ({})", a.native.as_ref().err().map(String::as_str).unwrap_or("")) };
    let w = match &a.wasm {
        Ok(_) => "ok".to_string(),
        Err(e) if !wasm_expected => format!("n/e ({e})"),
        Err(e) => {
            *failed += 1;
            format!("FAILED ({e})")
        }
    };
    println!("{:<12} native {n}  wasm {w}", a.name);
}

fn attack_cmd(lab: &Lab, targets: &str, only: &[String], profile: Profile) -> Result<schema::AttackReport> {
    let mut kinds = target::parse_list(targets)?;
    if !kinds.contains(&Kind::Native) {
        kinds.insert(0, Kind::Native);
    }
    let dir = lab.payloads.join("attacks");
    let scenarios = manifest::select(manifest::load_dir(&dir)?, only)?;
    if scenarios.is_empty() {
        bail!("no scenarios in {}", dir.display());
    }
    let targets = lab.targets(&kinds);
    attack::run(lab, &scenarios, &targets, profile)
}

fn write_json<T: serde::Serialize>(path: Option<&Path>, value: &T) -> Result<()> {
    if let Some(p) = path {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, serde_json::to_vec_pretty(value)?).with_context(|| format!("write {}", p.display()))?;
    }
    Ok(())
}

/// `all --smoke`'s stress: lifecycles per target, workers, runs of each race.
const SMOKE_STRESS: (usize, usize, usize) = (50, 4, 5);

/// How big an `all` run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    Smoke,
    Quick,
    Full,
}

impl Size {
    fn of(full: bool, smoke: bool) -> Size {
        match (full, smoke) {
            (true, _) => Size::Full,
            (_, true) => Size::Smoke,
            _ => Size::Quick,
        }
    }
}

/// The main job: everything, at a size that finishes in about ten minutes on 2 cores (`Quick`),
/// a few minutes (`Smoke`, for CI) or publication size (`Full`).
fn all(lab: &Lab, size: Size, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let started = std::time::Instant::now();
    eprintln!("isola-lab all ({size:?}): building payloads");
    build(lab)?;
    let (attack_targets, profiles): (&str, &[Profile]) = match size {
        // youki (built by scripts/peers.sh; skipped with its reason when absent) is the one peer
        // in the smoke run: the Rust OCI runtime isola is weighed against.
        Size::Smoke => ("native,isola-container,isola-wasm,youki", &[Profile::Hardened]),
        _ => ("all", &[Profile::Plain, Profile::Hardened]),
    };
    let mut attacks = Vec::new();
    for profile in profiles {
        let r = attack_cmd(lab, attack_targets, &[], *profile)?;
        eprintln!("attack matrix ({}):", profile.as_str());
        eprint!("{}", report::attack_totals_markdown(&r));
        write_json(Some(&dir.join(format!("attack-{}.json", profile.as_str()))), &r)?;
        attacks.push(r);
    }
    let mut benches = Vec::new();
    for suite in bench::Suite::ALL {
        let (runs, density_n, kinds) = match size {
            Size::Full => (suite.full_runs(), 100, suite.default_targets()),
            Size::Quick => (suite.quick_runs(), 100, suite.default_targets()),
            Size::Smoke => (suite.smoke_runs(), 10, suite.default_targets().into_iter().filter(|k| matches!(k, Kind::Native | Kind::IsolaContainer | Kind::IsolaWasm | Kind::Youki)).collect()),
        };
        let opts = bench::Options { runs, density_n, only: vec![], smoke: matches!(size, Size::Smoke) };
        let r = bench::run(lab, suite, &kinds, &opts)?;
        eprint!("{}", report::bench_markdown(&r));
        write_json(Some(&dir.join(format!("bench-{}.json", suite.name()))), &r)?;
        benches.push(r);
    }
    // Smoke only: the lifecycle stress and races of isola itself (about 20 s); publication size
    // is its own command (`isola-lab stress --lifecycles 500 --parallel 8`).
    let mut stress_problems = Vec::new();
    if size == Size::Smoke {
        let stress_started = std::time::Instant::now();
        let opts = stress::Options { lifecycles: SMOKE_STRESS.0, parallel: SMOKE_STRESS.1, rounds: 2, race_runs: SMOKE_STRESS.2 };
        let r = stress::run(lab, &[Kind::IsolaContainer, Kind::IsolaWasm], &opts)?;
        eprint!("{}", report::stress_markdown(&r));
        eprintln!("stress: {:.0} s", stress_started.elapsed().as_secs_f64());
        write_json(Some(&dir.join("stress.json")), &r)?;
        stress_problems = stress::problems(&r);
    }
    let page = report::write(dir)?;
    println!("report: file://{}\nsummary: {}", page.display(), dir.join("summary.md").display());
    eprintln!("isola-lab all ({size:?}): {:.0} s", started.elapsed().as_secs_f64());
    let mut problems = gate(&attacks, &benches, size == Size::Smoke);
    problems.extend(stress_problems);
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(())
}

/// What fails a run: a compute checksum that disagrees with native and any attack cell or
/// benchmark of native or isola that ended in an error (always), and with `strict` (the CI
/// smoke run, hardened profile) any attack that got through isola-wasm.
fn gate(attacks: &[schema::AttackReport], benches: &[schema::BenchReport], strict: bool) -> Vec<String> {
    let mut problems: Vec<String> = benches
        .iter()
        .flat_map(|b| &b.results)
        .filter_map(|x| x.error.as_ref().filter(|e| e.starts_with("checksum mismatch")).map(|e| format!("compute {}: {e}", x.benchmark)))
        .collect();
    if strict {
        for a in attacks {
            let breaches: Vec<String> = a
                .scenarios
                .iter()
                .filter(|s| s.results.get("isola-wasm").is_some_and(|c| c.verdict.is_breach()))
                .map(|s| s.id.clone())
                .collect();
            if !breaches.is_empty() {
                problems.push(format!("isola-wasm let {} through ({} profile): {}", breaches.len(), a.profile.as_deref().unwrap_or("?"), breaches.join(", ")));
            }
        }
    }
    // Always: a cell of native or isola that ended in an error means the sandbox under test
    // never ran the payload, and a report built on that would be empty.
    for a in attacks {
        for s in &a.scenarios {
            for (t, c) in &s.results {
                if c.verdict == verdict::Verdict::Error && (t == "native" || t.starts_with("isola")) {
                    problems.push(format!("attack {} on {t}: error: {}", s.id, c.evidence));
                }
            }
        }
    }
    for b in benches {
        for x in &b.results {
            let ours = x.target == "native" || x.target.starts_with("isola") || x.target == bench::INPROCESS;
            if let Some(e) = x.error.as_ref().filter(|e| ours && !e.starts_with("skipped") && !e.starts_with("checksum mismatch")) {
                problems.push(format!("bench {} {} on {}: {e}", b.suite, x.benchmark, x.target));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::gate;
    use crate::schema::{AttackReport, BenchReport, BenchResult, Cell, ScenarioResult};
    use crate::verdict::Verdict;

    fn attack(wasm: Verdict) -> AttackReport {
        let mut results = BTreeMap::new();
        results.insert("native".to_string(), Cell { verdict: Verdict::Escaped, evidence: "token".into(), wall_ms: None });
        results.insert("isola-wasm".to_string(), Cell { verdict: wasm, evidence: "e".into(), wall_ms: None });
        AttackReport {
            targets: vec!["native".into(), "isola-wasm".into()],
            scenarios: vec![ScenarioResult { id: "FS-01".into(), group: "filesystem".into(), title: "t".into(), control: "ok".into(), results }],
            profile: Some("hardened".into()),
        }
    }

    fn compute(error: Option<&str>) -> BenchReport {
        let row = BenchResult { benchmark: "sha256".into(), target: "isola-wasm".into(), error: error.map(str::to_string), ..Default::default() };
        BenchReport { suite: "compute".into(), machine: Default::default(), results: vec![row] }
    }

    #[test]
    fn smoke_gate_fails_on_wasm_breach_error_and_checksum_mismatch() {
        assert!(gate(&[attack(Verdict::Blocked)], &[compute(None)], true).is_empty());
        assert!(gate(&[attack(Verdict::Leaked)], &[compute(None)], false).is_empty(), "only the smoke run gates breaches");
        assert_eq!(gate(&[attack(Verdict::Leaked)], &[compute(None)], true).len(), 1);
        assert_eq!(gate(&[attack(Verdict::Error)], &[compute(None)], true).len(), 1);
        assert_eq!(gate(&[attack(Verdict::Error)], &[compute(None)], false).len(), 1, "errors of isola fail every run");
        assert_eq!(gate(&[], &[compute(Some("checksum mismatch: native 1 vs isola-wasm 2"))], false).len(), 1);
        assert_eq!(gate(&[], &[compute(Some("Exited(134): wasm trap"))], true).len(), 1);
        assert!(gate(&[], &[compute(Some("skipped: isola not found"))], true).is_empty());
    }
}
