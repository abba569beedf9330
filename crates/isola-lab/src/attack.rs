//! The attack runner: for every scenario and target, plant fresh oracles, fill the placeholders,
//! run the payload once with a deadline and classify the outcome. It must never reuse a token
//! across runs, and never count a scenario whose native control failed as a defence.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

use crate::bundle::Profile;
use crate::compile::Artifact;
use crate::lab::Lab;
use crate::manifest::Scenario;
use crate::oracle::{Listener, Plant, Token, Victim, ENV_CANARY};
use crate::placeholder::{fill_all, Values};
use crate::progress::Phase;
use crate::schema::{AttackReport, Cell, ScenarioResult};
use crate::target::{runtime_error, Kind, Target};
use crate::verdict::{classify, Observation, Verdict};

/// Extra wall-clock time allowed on top of a scenario's `timeout_ms` for sandbox start-up.
const STARTUP_SLACK_MS: u64 = 2000;

/// Runs every scenario against every target (native first: it is the positive control).
pub fn run(lab: &Lab, scenarios: &[Scenario], targets: &[Target], profile: Profile) -> Result<AttackReport> {
    let builder = lab.builder()?;
    let pb = Phase::new((scenarios.len() * targets.len()) as u64, &format!("attack/{}", profile.as_str()));
    let mut out = Vec::new();
    for s in scenarios {
        let art = builder.build_scenario(s)?;
        let mut results = BTreeMap::new();
        for t in targets {
            pb.set_message(format!("{} on {}", s.id, t.name()));
            let cell = run_cell(lab, s, &art, t, profile);
            results.insert(t.name().to_string(), cell);
            pb.inc(1);
        }
        let control = match results.get("native") {
            Some(c) if c.verdict.is_breach() => "ok",
            _ => "failed",
        };
        out.push(ScenarioResult { id: s.id.clone(), group: s.group.clone(), title: s.title.clone(), control: control.into(), results });
    }
    drop(pb);
    Ok(AttackReport {
        targets: targets.iter().map(|t| t.name().to_string()).collect(),
        scenarios: out,
        profile: Some(profile.as_str().to_string()),
    })
}

fn cell(verdict: Verdict, evidence: impl Into<String>) -> Cell {
    Cell { verdict, evidence: evidence.into(), wall_ms: None }
}

/// One scenario on one target: plant, run, observe, classify, clean up.
pub fn run_cell(lab: &Lab, s: &Scenario, art: &Artifact, t: &Target, profile: Profile) -> Cell {
    if let Some(why) = &t.missing {
        return cell(Verdict::Skipped, why.clone());
    }
    let wasm_build_failed = if t.kind.is_wasm() { art.wasm.as_ref().err().cloned() } else { None };
    if let Some(why) = &wasm_build_failed {
        return cell(Verdict::NotExpressible, format!("wasm build failed: {why}"));
    }
    if !t.kind.is_wasm() {
        if let Err(why) = &art.native {
            return cell(Verdict::Error, format!("native build failed: {why}"));
        }
    }
    let name = format!("{}-{}-{}", s.id.to_lowercase(), t.name(), profile.as_str());
    match observe(lab, s, art, t, profile, &name) {
        Ok((o, wall)) => {
            let (verdict, evidence) = classify(&o);
            Cell { verdict, evidence, wall_ms: Some(crate::stats::round3(wall)) }
        }
        Err(e) => cell(Verdict::Error, format!("harness: {}", one_line(&format!("{e:#}")))),
    }
}

fn observe(lab: &Lab, s: &Scenario, art: &Artifact, t: &Target, profile: Profile, name: &str) -> Result<(Observation, f64)> {
    let token = Token::fresh();
    let plant = Plant::new(&lab.canary_dir(name), &token)?;
    let listener = Listener::start()?;
    let victim = if s.wants_victim() { Some(Victim::start(&token)?) } else { None };
    let values = Values {
        canary: Some(plant.canary.display().to_string()),
        canary_dir: Some(plant.dir.display().to_string()),
        port: Some(listener.port),
        target_file: Some(plant.target_file.display().to_string()),
        victim_pid: victim.as_ref().map(|v| v.pid()),
    };
    let args = fill_all(&s.args, &values)?;
    let work_dir = lab.run_dir(name)?;
    // The image's root-only /etc/shadow holds the token only for secret-theft scenarios.
    let shadow_secret = if s.group == "secrets" { token.as_str().to_string() } else { Token::fresh().as_str().to_string() };
    let runtime_env = vec![(ENV_CANARY.to_string(), token.as_str().to_string())];
    let job = crate::target::Job {
        native: art.native.as_ref().ok().map(|p| p.as_path()),
        wasm: art.wasm.as_ref().ok().map(|p| p.as_path()),
        args: &args,
        profile,
        timeout: Duration::from_millis(s.timeout_ms + if t.kind == Kind::Native { 0 } else { STARTUP_SLACK_MS }),
        runtime_env: &runtime_env,
        work_dir: &work_dir,
        isola_config: None,
        shadow_secret: &shadow_secret,
        precompiled: false,
        engine_cache: None,
        safety_cgroup: true,
        wasm_timeout_ms: s.timeout_ms,
    };
    let r = t.run(&job);
    drop(victim);
    // Give in-flight loopback connections a moment to be counted.
    std::thread::sleep(Duration::from_millis(20));
    let counts = listener.finish(&token);
    let checksum_changed = plant.checksum_changed();
    plant.remove();
    let _ = std::fs::remove_dir_all(&work_dir);
    let r = r?;
    let stdout = String::from_utf8_lossy(&r.stdout);
    let stderr = String::from_utf8_lossy(&r.stderr);
    let token_in_output = if token.seen_in(&r.stdout) {
        Some("stdout")
    } else if token.seen_in(&r.stderr) {
        Some("stderr")
    } else if counts.token_seen {
        Some("the loopback listener")
    } else {
        None
    };
    let result_line = stdout.lines().rev().find(|l| l.trim_start().starts_with("RESULT:")).map(|l| one_line(l.trim()));
    // Evidence: a trap / refusal line of the runtime if any, else the payload's last line.
    let notable = |l: &&str| {
        let l = l.to_ascii_lowercase();
        ["wasm trap", "unknown import", "out of bounds", "exhausted", "unreachable", "incompatible import", "wasm timeout"].iter().any(|k| l.contains(k))
    };
    let last_line = stderr
        .lines()
        .find(notable)
        .or_else(|| stdout.lines().rev().find(|l| !l.trim().is_empty()))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .map(|l| one_line(&l.replace(token.as_str(), "<token>")))
        .unwrap_or_default();
    // A wasm runtime refusing the module before any guest code ran (missing import, validation)
    // is the sandbox's defence, not a runtime failure.
    let refused_module = t.kind.is_wasm()
        && ["unknown import", "imports unknown", "incompatible import", "instantiat", "validat", "failed to find"].iter().any(|k| stderr.to_ascii_lowercase().contains(k))
        && !stderr.contains("not supported by this build");
    let runtime_error = if refused_module { None } else { runtime_error(t.kind, &r) };
    let o = Observation {
        oracle: s.oracle,
        group: s.group.clone(),
        ending: r.ending.clone(),
        wasm_stub: t.kind.is_wasm() && !s.wasm,
        wasm_build_failed: None,
        runtime_error,
        token_in_output,
        listener_connections: counts.connections,
        listener_bytes: counts.bytes,
        checksum_changed,
        result_line,
        last_line,
        timeout_ms: s.timeout_ms,
    };
    Ok((o, r.wall_ms()))
}

fn one_line(s: &str) -> String {
    let s: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let s = s.trim();
    if s.chars().count() > 160 {
        format!("{}...", s.chars().take(160).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Per-target totals. A breach counts whatever the control says (an attack that got through got
/// through); any other verdict counts only when the native control succeeded, else it is
/// `unverified` (a broken probe is never a defence).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub by_verdict: BTreeMap<Verdict, usize>,
    pub unverified: usize,
}

impl Totals {
    pub fn get(&self, v: Verdict) -> usize {
        self.by_verdict.get(&v).copied().unwrap_or(0)
    }
    pub fn breaches(&self) -> usize {
        self.get(Verdict::Escaped) + self.get(Verdict::Leaked)
    }
}

pub fn totals(report: &AttackReport) -> BTreeMap<String, Totals> {
    let mut t: BTreeMap<String, Totals> = BTreeMap::new();
    for s in &report.scenarios {
        for (target, c) in &s.results {
            let e = t.entry(target.clone()).or_default();
            if s.control == "ok" || c.verdict.is_breach() {
                *e.by_verdict.entry(c.verdict).or_default() += 1;
            } else {
                e.unverified += 1;
            }
        }
    }
    t
}

/// (controls that succeeded, scenarios expressible natively).
pub fn control_rate(report: &AttackReport) -> (usize, usize) {
    let expressible = report
        .scenarios
        .iter()
        .filter(|s| s.results.get("native").is_some_and(|c| c.verdict != Verdict::NotExpressible))
        .count();
    (report.scenarios.iter().filter(|s| s.control == "ok").count(), expressible)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Cell;

    fn scenario(control: &str, native: Verdict, other: Verdict) -> ScenarioResult {
        let mut results = BTreeMap::new();
        results.insert("native".to_string(), Cell { verdict: native, evidence: "e".into(), wall_ms: None });
        results.insert("isola-wasm".to_string(), Cell { verdict: other, evidence: "e".into(), wall_ms: None });
        ScenarioResult { id: "X".into(), group: "wasm".into(), title: "t".into(), control: control.into(), results }
    }

    #[test]
    fn failed_controls_never_count_as_defences_but_breaches_always_count() {
        let r = AttackReport {
            targets: vec!["native".into(), "isola-wasm".into()],
            scenarios: vec![
                scenario("ok", Verdict::Escaped, Verdict::Blocked),
                scenario("failed", Verdict::Blocked, Verdict::Blocked),
                scenario("failed", Verdict::NotExpressible, Verdict::Escaped),
            ],
            profile: None,
        };
        let t = totals(&r);
        let w = &t["isola-wasm"];
        assert_eq!(w.get(Verdict::Blocked), 1);
        assert_eq!(w.unverified, 1);
        assert_eq!(w.breaches(), 1);
        assert_eq!(control_rate(&r), (1, 2));
    }
}
