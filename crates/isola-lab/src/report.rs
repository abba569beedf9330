//! The report: Markdown summaries for the terminal and summary.md, and one self-contained HTML
//! page (inline SVG charts, inline CSS, no scripts or network at view time) built from the JSON files
//! of a report directory. It only reads JSON: it must never run a benchmark or an attack.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::chart::{self, Bar};
use crate::manifest::{group_rank, GROUPS};
use crate::schema::{AttackReport, BenchReport, BenchResult, StressReport};
use crate::stats::geomean;
use crate::verdict::Verdict;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn short(v: Verdict) -> &'static str {
    match v {
        Verdict::Escaped => "ESC",
        Verdict::Leaked => "LEAK",
        Verdict::Contained => "CONT",
        Verdict::Blocked => "BLK",
        Verdict::NotExpressible => "N/E",
        Verdict::Error => "ERR",
        Verdict::Skipped => "skip",
    }
}

/// Terminal/Markdown matrix: one row per scenario, one column per target, then the totals.
pub fn attack_markdown(r: &AttackReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n## Attack matrix ({} profile)\n", r.profile.as_deref().unwrap_or("?"));
    let _ = writeln!(s, "| id | group | control | {} |", r.targets.join(" | "));
    let _ = writeln!(s, "|---|---|---|{}", "---|".repeat(r.targets.len()));
    for sc in &r.scenarios {
        let cells: Vec<&str> = r.targets.iter().map(|t| sc.results.get(t).map(|c| short(c.verdict)).unwrap_or("-")).collect();
        let _ = writeln!(s, "| {} | {} | {} | {} |", sc.id, sc.group, sc.control, cells.join(" | "));
    }
    s + &attack_totals_markdown(r)
}

/// Totals per target (breaches always; other verdicts only with a working native control).
pub fn attack_totals_markdown(r: &AttackReport) -> String {
    let mut s = String::new();
    let (ok, expressible) = crate::attack::control_rate(r);
    let _ = writeln!(
        s,
        "\n{} scenarios; the native control succeeded for {ok} of the {expressible} expressible natively. Breaches always count; other verdicts of a scenario whose control failed are `unverified` (a broken probe is not a defence).\n",
        r.scenarios.len()
    );
    let _ = writeln!(s, "| target | escaped+leaked | contained | blocked | not-expressible | error | skipped | unverified |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    let totals = crate::attack::totals(r);
    for t in &r.targets {
        let c = totals.get(t).cloned().unwrap_or_default();
        let _ = writeln!(
            s,
            "| {t} | {} | {} | {} | {} | {} | {} | {} |",
            c.breaches(),
            c.get(Verdict::Contained),
            c.get(Verdict::Blocked),
            c.get(Verdict::NotExpressible),
            c.get(Verdict::Error),
            c.get(Verdict::Skipped),
            c.unverified
        );
    }
    s
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| if x.abs() < 1.0 { format!("{x:.3}") } else { format!("{x:.2}") }).unwrap_or_else(|| "-".into())
}

fn arm_label(r: &BenchResult) -> String {
    match &r.variant {
        Some(v) => format!("{} ({v})", r.target),
        None => r.target.clone(),
    }
}

pub fn bench_markdown(r: &BenchReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n## Bench: {}\n", r.suite);
    match r.suite.as_str() {
        "memory" => {
            let _ = writeln!(s, "| target | runs | USS KiB | PSS KiB | RSS KiB | peak RSS KiB | note |\n|---|---|---|---|---|---|---|");
            for x in &r.results {
                let _ = writeln!(s, "| {} | {} | {} | {} | {} | {} | {} |", x.target, x.runs, fmt_opt(x.uss_kib), fmt_opt(x.pss_kib), fmt_opt(x.rss_kib), fmt_opt(x.peak_rss_kib), x.error.as_deref().unwrap_or(""));
            }
        }
        "density" => {
            let _ = writeln!(s, "| target | sandboxes | all running (ms) | host memory delta KiB | total PSS KiB | note |\n|---|---|---|---|---|---|");
            for x in &r.results {
                let _ = writeln!(s, "| {} | {} | {} | {} | {} | {} |", x.target, x.sandboxes.unwrap_or(0), fmt_opt(x.median_ms), fmt_opt(x.host_delta_kib), fmt_opt(x.total_pss_kib), x.error.as_deref().unwrap_or(""));
            }
        }
        _ => {
            let _ = writeln!(s, "| benchmark | target | runs | median ms | p10 ms | p90 ms | ratio to native | note |\n|---|---|---|---|---|---|---|---|");
            for x in &r.results {
                // The CRI suite's per-pod memory rows carry PSS, not times.
                let note = match (x.error.as_deref(), x.pss_kib, x.sandboxes) {
                    (Some(e), _, _) => e.to_string(),
                    (None, Some(p), Some(n)) => format!("PSS per pod {:.1} MiB ({n} pods at once; shim + runtime + workload)", p / 1024.0),
                    _ => String::new(),
                };
                let _ = writeln!(s, "| {} | {} | {} | {} | {} | {} | {} | {} |", x.benchmark, arm_label(x), x.runs, fmt_opt(x.median_ms), fmt_opt(x.p10_ms), fmt_opt(x.p90_ms), fmt_opt(x.ratio_to_native), note);
            }
        }
    }
    for line in headline(r) {
        let _ = writeln!(s, "\n- {line}");
    }
    s
}

fn find<'a>(r: &'a BenchReport, target: &str, variant: Option<&str>) -> Option<&'a BenchResult> {
    r.results.iter().find(|x| x.target == target && x.variant.as_deref() == variant && x.error.is_none())
}

/// The median of `benchmark`'s (target, variant) row, if it ran.
fn median_of(r: &BenchReport, benchmark: &str, target: &str, variant: Option<&str>) -> Option<f64> {
    r.results.iter().find(|x| x.benchmark == benchmark && x.target == target && x.variant.as_deref() == variant && x.error.is_none())?.median_ms
}

/// Geometric mean of wasm/native per wasm target, over the kernels measured on both.
pub fn compute_geomeans(r: &BenchReport) -> BTreeMap<String, f64> {
    let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for x in r.results.iter().filter(|x| x.target != "native") {
        if let Some(ratio) = x.ratio_to_native {
            per.entry(arm_label(x)).or_default().push(ratio);
        }
    }
    per.into_iter().map(|(k, v)| (k, geomean(&v))).collect()
}

/// The target figures, computed from medians.
fn headline(r: &BenchReport) -> Vec<String> {
    let mut out = Vec::new();
    match r.suite.as_str() {
        "startup" => {
            let crun = median_of(r, "hello", "crun", None);
            let mut sizes: Vec<&str> = r.results.iter().filter(|x| x.benchmark.starts_with("code-")).map(|x| x.benchmark.as_str()).collect();
            sizes.dedup();
            for b in sizes {
                let (cold, cranelift, warm) = (median_of(r, b, "isola-wasm", Some("cold")), median_of(r, b, "isola-wasm", Some("cold-cranelift")), median_of(r, b, "isola-wasm", Some("warm")));
                let code = r.results.iter().find(|x| x.benchmark == b).and_then(|x| x.code_bytes).map(|n| format!(" ({} KB of code)", n / 1000)).unwrap_or_default();
                let mut line = format!("{b}{code}: isola-wasm cold (tiered) {} ms, warm {} ms", fmt_opt(cold), fmt_opt(warm));
                let interpreter = b == crate::bench::INTERPRETER;
                if let (Some(c), Some(k)) = (cold, cranelift) {
                    line.push_str(&format!(", Cranelift-only cold {k:.0} ms: tiered/Cranelift = {:.2}{}", c / k, if interpreter { " (target <= 0.2)" } else { "" }));
                }
                if let (Some(c), Some(n)) = (cold, crun) {
                    line.push_str(&format!("; cold / crun native hello = {:.2}{}", c / n, if interpreter { " (target <= 10)" } else { "" }));
                }
                if let (true, Some(n)) = (interpreter, median_of(r, b, "crun", None)) {
                    line.push_str(&format!("; the same interpreter native under crun {n:.1} ms (warm / that = {})", fmt_opt(warm.map(|w| w / n))));
                }
                out.push(line);
            }
            for (t, v) in [("isola-wasm", Some("warm")), ("isola-wasm", Some("cold")), ("isola-wasm", Some("cold-cranelift")), ("isola-container", None), ("wasmtime", Some("cold"))] {
                if let (Some(a), Some(c)) = (median_of(r, "hello", t, v), crun) {
                    out.push(format!("{t}{} / crun = {:.2} (target <= 0.7 for isola-wasm warm and isola-container)", v.map(|v| format!(" {v}")).unwrap_or_default(), a / c));
                }
            }
            // The same starts beside a CPU-bound neighbour on every core.
            if let Some(c) = median_of(r, crate::bench::BUSY, "crun", None) {
                let ratios: Vec<String> = [("isola-wasm", Some("warm")), ("isola-container", None), ("isola-wasm", Some("cold"))]
                    .into_iter()
                    .filter_map(|(t, v)| {
                        let a = median_of(r, crate::bench::BUSY, t, v)?;
                        Some(format!("{t}{} / crun = {:.2}", v.map(|v| format!(" {v}")).unwrap_or_default(), a / c))
                    })
                    .collect();
                out.push(format!("busy machine (a CPU-bound neighbour on every core), crun {c:.1} ms: {} (target <= 0.7 for isola-wasm warm and isola-container)", ratios.join(", ")));
            }
            // Issue 15's ratio: against the fastest OCI runtime that ran here, not only crun.
            let best = ["runc", "crun", "youki"]
                .into_iter()
                .filter_map(|t| Some((t, median_of(r, "hello", t, None)?)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((peer, p)) = best {
                for (t, v) in [("isola-container", None), ("isola-wasm", Some("warm"))] {
                    if let Some(a) = median_of(r, "hello", t, v) {
                        out.push(format!("{t}{} / best OCI peer ({peer}, {p:.1} ms) = {:.2} (target <= 0.8)", v.map(|v| format!(" {v}")).unwrap_or_default(), a / p));
                    }
                }
            }
            if let Some(floor) = find(r, crate::bench::INPROCESS, Some("warm")) {
                let us = floor.median_us.or(floor.median_ms.map(|m| m * 1000.0)).unwrap_or(f64::NAN);
                let warm = median_of(r, "hello", "isola-wasm", Some("warm"));
                out.push(format!(
                    "in-process floor (isola-wasm library, pooling allocator, precompiled hello, instantiate+run) = {us:.0} us{}",
                    warm.map(|w| format!("; isola-wasm warm whole process = {:.0}x the floor", w * 1000.0 / us)).unwrap_or_default()
                ));
            }
        }
        "e2e" => {
            let pod = |t: &str| r.results.iter().find(|x| x.benchmark == "pod-start" && x.target == t && x.error.is_none()).and_then(|x| x.median_ms);
            if let (Some(w), Some(n)) = (pod("isola-wasm"), pod("runc")) {
                out.push(format!("CRI pod start: isola wasm pod {w:.0} ms / runc native pod {n:.0} ms = {:.2} (target <= 1.0)", w / n));
            }
            let per_pod = |t: &str| r.results.iter().find(|x| x.benchmark == "pod-memory" && x.target == t && x.error.is_none()).and_then(|x| Some((x.pss_kib?, x.sandboxes?)));
            if let Some((w, n)) = per_pod("isola-wasm") {
                let others: Vec<String> = ["runc", "isola-container", "runwasi"]
                    .iter()
                    .filter_map(|t| per_pod(t).map(|(k, _)| format!("{t} {:.1} MiB (isola wasm / {t} = {:.2})", k / 1024.0, w / k)))
                    .collect();
                out.push(format!("per-pod memory, {n} pods at once (PSS of shim + runtime + workload): isola wasm pod {:.1} MiB; {}", w / 1024.0, others.join(", ")));
            }
            if let (Some(w), Some(p)) = (pod("isola-wasm"), pod("runwasi")) {
                out.push(format!("CRI pod start: isola wasm pod {w:.0} ms / runwasi peer's wasm pod {p:.0} ms = {:.2} (target <= 0.8)", w / p));
            }
            // Through isola's own shim (containerd-shim-isola-v1) instead of containerd's runc shim.
            if let (Some(w), Some(n)) = (pod("isola-shim-wasm"), pod("runc")) {
                out.push(format!("CRI pod start through isola's shim: isola wasm pod {w:.0} ms / runc native pod {n:.0} ms = {:.2} (target <= 0.5)", w / n));
            }
            if let (Some((w, pods)), Some((n, _))) = (per_pod("isola-shim-wasm"), per_pod("runc")) {
                out.push(format!(
                    "per-pod memory through isola's shim: isola wasm pod {:.1} MiB / runc native pod {:.1} MiB = {:.2} (target <= 0.33); {pods} such pods {:.0} MiB",
                    w / 1024.0,
                    n / 1024.0,
                    w / n,
                    w * pods as f64 / 1024.0
                ));
            }
        }
        "compute" => {
            let geomeans = compute_geomeans(r);
            for (t, g) in &geomeans {
                out.push(format!("geometric mean {t}/native = {g:.3} (target <= 1.25)"));
            }
            // Against the best other wasm engine (its default arm): within 10 %, or ahead.
            let best = geomeans.iter().filter(|(t, _)| !t.starts_with("isola") && !t.contains('(')).min_by(|a, b| a.1.total_cmp(b.1));
            if let (Some(ours), Some((peer, g))) = (geomeans.get("isola-wasm"), best) {
                out.push(format!("isola-wasm geomean / best other wasm engine ({peer}, {g:.3}) = {:.2} (target <= 1.10)", ours / g));
            }
        }
        "memory" => {
            if let Some(u) = find(r, "isola-wasm", None).and_then(|x| x.uss_kib) {
                out.push(format!("isola-wasm unique memory per idle sandbox = {:.1} MiB (target <= 8 MiB)", u / 1024.0));
            }
        }
        "density" => {
            if let Some(x) = find(r, "isola-wasm", None) {
                out.push(format!(
                    "{} isola-wasm sandboxes: host memory delta {:.0} MiB, summed PSS {:.0} MiB (target for 100: <= 1 GiB)",
                    x.sandboxes.unwrap_or(0),
                    x.host_delta_kib.unwrap_or(0.0) / 1024.0,
                    x.total_pss_kib.unwrap_or(0.0) / 1024.0
                ));
            }
        }
        _ => {}
    }
    out
}

/// The stress table (lifecycles/s and latency per target), the races and the leak accounting.
pub fn stress_markdown(r: &StressReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n## Stress: {} lifecycles per target, {} in parallel, {} round(s)\n\nEach lifecycle is create, start, wait for the workload, delete, through the runtime's command line. Workload: {}.\n",
        r.lifecycles, r.parallel, r.rounds, r.workload
    );
    let _ = writeln!(s, "| target | build | lifecycles | ok | failed | lifecycles/s | p50 ms | p95 ms | vs runc | leaks | note |\n|---|---|---|---|---|---|---|---|---|---|---|");
    for x in &r.results {
        let note = x.error.clone().or_else(|| x.errors.first().cloned()).unwrap_or_default();
        let leaks = if x.error.is_some() { "-".to_string() } else { x.leaks.len().to_string() };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            x.target, x.build, x.lifecycles, x.ok, x.failures, fmt_opt(x.lifecycles_per_s), fmt_opt(x.p50_ms), fmt_opt(x.p95_ms), fmt_opt(x.ratio_to_runc), leaks, note.replace('|', "/")
        );
    }
    if !r.races.is_empty() {
        let _ = writeln!(s, "\n| target | race | runs | failed | outcomes | leaks | first failure |\n|---|---|---|---|---|---|---|");
        for x in &r.races {
            let outcomes: Vec<String> = x.outcomes.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            let _ = writeln!(s, "| {} | {} | {} | {} | {} | {} | {} |", x.target, x.race, x.runs, x.failures, outcomes.join(", "), x.leaks.len(), x.errors.first().map(|e| e.replace('|', "/")).unwrap_or_default());
        }
    }
    let ran: Vec<_> = r.results.iter().filter(|x| !x.accounting.is_empty()).collect();
    if let Some(first) = ran.first() {
        let names: Vec<&str> = first.accounting.iter().map(|c| c.name.as_str()).filter(|n| !n.starts_with("cgroup dirs in ")).collect();
        let _ = writeln!(s, "\nLeak accounting, before -> after each target (summed over its rounds; starred figures count the whole host, where other work moves them, and never fail a run):\n");
        let _ = writeln!(s, "| target | {} |\n|---|{}", names.iter().map(|n| {
            let host = first.accounting.iter().any(|c| c.name == *n && c.host_wide);
            format!("{n}{}", if host { " *" } else { "" })
        }).collect::<Vec<_>>().join(" | "), "---|".repeat(names.len()));
        for x in &ran {
            let cells: Vec<String> = names.iter().map(|n| x.accounting.iter().find(|c| c.name == *n).map(|c| if c.before == c.after { c.after.to_string() } else { format!("{} -> {}", c.before, c.after) }).unwrap_or_else(|| "-".into())).collect();
            let _ = writeln!(s, "| {} | {} |", x.target, cells.join(" | "));
        }
    }
    let leaks: Vec<String> = r.results.iter().flat_map(|x| x.leaks.iter().map(move |l| format!("{}: {l}", x.target)))
        .chain(r.races.iter().flat_map(|x| x.leaks.iter().map(move |l| format!("{} ({}): {l}", x.target, x.race))))
        .collect();
    if leaks.is_empty() {
        let _ = writeln!(s, "\nNo leak.");
    } else {
        let _ = writeln!(s, "\nLEAKS:");
        for l in &leaks {
            let _ = writeln!(s, "- {l}");
        }
    }
    for line in stress_headline(r) {
        let _ = writeln!(s, "\n- {line}");
    }
    s
}

/// The targets: isola's lifecycles/s over runc's (native build) >= 1.5.
fn stress_headline(r: &StressReport) -> Vec<String> {
    let rate = |t: &str| r.results.iter().find(|x| x.target == t && x.failures == 0).and_then(|x| x.lifecycles_per_s);
    let mut out = Vec::new();
    if let Some(runc) = rate("runc").filter(|v| *v > 0.0) {
        for (t, what) in [("isola-container", "native build"), ("isola-wasm", "wasm build")] {
            if let Some(v) = rate(t) {
                out.push(format!("stress at {} parallel: {t} ({what}) / runc (native build) lifecycles per second = {:.2} (target >= 1.5)", r.parallel, v / runc));
            }
        }
    }
    out
}

fn md_table_html(md: &str) -> String {
    let mut html = String::new();
    let mut open = false;
    let mut header = true;
    for line in md.lines() {
        if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            if !open {
                html.push_str("<table>");
                (open, header) = (true, true);
            }
            let tag = if header { "th" } else { "td" };
            header = false;
            html.push_str("<tr>");
            for cell in line.trim_matches('|').split(" | ") {
                let _ = write!(html, "<{tag}>{}</{tag}>", esc(cell.trim()));
            }
            html.push_str("</tr>");
        } else {
            if open {
                html.push_str("</table>");
                open = false;
            }
            let t = line.trim();
            if let Some(item) = t.strip_prefix("- ") {
                let _ = write!(html, "<p class=\"note\">{}</p>", esc(item));
            } else if !t.is_empty() && !t.starts_with('#') {
                let _ = write!(html, "<p>{}</p>", esc(t));
            }
        }
    }
    if open {
        html.push_str("</table>");
    }
    html
}

fn stress_html(r: &StressReport) -> String {
    let bars: Vec<Bar> = r.results.iter().filter(|x| x.error.is_none()).filter_map(|x| {
        Some(Bar { label: format!("{} ({})", x.target, x.build), value: x.lifecycles_per_s?, range: None, key: x.target.clone() })
    }).collect();
    let runc = r.results.iter().find(|x| x.target == "runc").and_then(|x| x.lifecycles_per_s);
    let chart = chart::bars(
        &format!("Stress: container lifecycles per second (create, start, wait, delete), {} in parallel (higher is better)", r.parallel),
        "lifecycles per second",
        &bars,
        runc.map(|v| (v * 1.5, "1.5 x runc (target)")),
    );
    format!("<h2>Stress</h2>{chart}{}", md_table_html(&stress_markdown(r)))
}

const CSS: &str = "body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:13px}\
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}\
.v-escaped,.v-leaked{background:#f8b4b4}.v-contained{background:#fde9a9}.v-blocked{background:#b9e4b9}\
.v-not-expressible{background:#cfe2f7}.v-error{background:#e0c3f0}.v-skipped{background:#eee;color:#888}\
.unverified{opacity:.55}details summary{cursor:pointer;font-weight:bold}details div{font-size:11px;max-width:260px}\
.note{color:#666}h2{border-bottom:2px solid #ddd;padding-bottom:.2em}code{background:#f3f3f3;padding:1px 3px}";

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Option<T> {
    std::fs::read(p).ok().and_then(|b| serde_json::from_slice(&b).ok())
}

/// Builds `index.html` and `summary.md` in `dir` from the JSON files there; returns the page.
pub fn write(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let attacks: Vec<AttackReport> = ["plain", "hardened"].iter().filter_map(|p| read_json(&dir.join(format!("attack-{p}.json")))).collect();
    let benches: Vec<BenchReport> = crate::bench::Suite::ALL.iter().filter_map(|s| read_json(&dir.join(format!("bench-{}.json", s.name())))).collect();
    let stress: Option<StressReport> = read_json(&dir.join("stress.json"));
    let mut html = String::new();
    let mut md = String::from("# isola-lab report\n");
    let _ = write!(html, "<!doctype html><html><head><meta charset=\"utf-8\"><title>isola-lab report</title><style>{CSS}</style></head><body><h1>isola-lab report</h1>");
    html.push_str("<p>One corpus of C programs (static native and wasm32-wasi builds of the same source) run under every isolation target side by side. JSON files in this directory are the machine-readable truth.</p>");
    let mut headlines = Vec::new();
    for b in &benches {
        headlines.extend(headline(b));
    }
    if let Some(r) = &stress {
        headlines.extend(stress_headline(r));
        let problems = crate::stress::problems(r);
        if !problems.is_empty() {
            headlines.push(format!("stress: {}", problems.join("; ")));
        }
    }
    for a in &attacks {
        let totals = crate::attack::totals(a);
        for t in &a.targets {
            let breaches = totals.get(t).map(|c| c.breaches()).unwrap_or(0);
            // A target that ran nothing (not installed) stopped nothing either: no headline.
            let ran = totals.get(t).is_some_and(|c| c.by_verdict.iter().any(|(v, n)| *v != crate::verdict::Verdict::Skipped && *n > 0));
            if t != "native" && ran {
                headlines.push(format!("attacks ({}): {t} let {breaches} through", a.profile.as_deref().unwrap_or("?")));
            }
        }
    }
    if !headlines.is_empty() {
        html.push_str("<h2>Headline figures</h2><ul>");
        for h in &headlines {
            let _ = write!(html, "<li>{}</li>", esc(h));
        }
        html.push_str("</ul>");
    }
    for b in &benches {
        html.push_str(&bench_html(b));
        md.push_str(&bench_markdown(b));
    }
    if let Some(r) = &stress {
        html.push_str(&stress_html(r));
        md.push_str(&stress_markdown(r));
    }
    for a in &attacks {
        html.push_str(&attack_html(a));
        md.push_str(&attack_markdown(a));
    }
    if let Some(m) = benches.first().map(|b| &b.machine).or(stress.as_ref().map(|r| &r.machine)) {
        html.push_str("<h2>Machine</h2><table>");
        for (k, v) in [("CPU", m.cpu.clone()), ("cores", m.cores.to_string()), ("kernel", m.kernel.clone()), ("memory", format!("{} MiB", m.memory_kib / 1024)), ("OS", m.os.clone()), ("date (UTC)", m.date.clone())] {
            let _ = write!(html, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
        }
        for (k, v) in &m.versions {
            let _ = write!(html, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
        }
        html.push_str("</table>");
        let _ = write!(md, "\n## Machine\n\n{} ({} cores), kernel {}, {}\n", m.cpu, m.cores, m.kernel, m.os);
        for (k, v) in &m.versions {
            let _ = writeln!(md, "- {k}: {v}");
        }
    }
    if attacks.is_empty() && benches.is_empty() && stress.is_none() {
        html.push_str("<p class=\"note\">No results yet: run <code>isola-lab all</code>.</p>");
    }
    html.push_str("<p class=\"note\">Reproduce: <code>isola-lab all --report DIR</code> (quick) or <code>isola-lab all --full</code>.</p></body></html>\n");
    let page = dir.join("index.html");
    std::fs::write(&page, html).with_context(|| format!("write {}", page.display()))?;
    std::fs::write(dir.join("summary.md"), md)?;
    Ok(page)
}

fn bench_table(b: &BenchReport) -> String {
    let md = bench_markdown(b);
    let mut html = String::from("<table>");
    for (i, line) in md.lines().filter(|l| l.starts_with('|') && !l.starts_with("|---")).enumerate() {
        let tag = if i == 0 { "th" } else { "td" };
        html.push_str("<tr>");
        for cell in line.trim_matches('|').split(" | ") {
            let _ = write!(html, "<{tag}>{}</{tag}>", esc(cell.trim()));
        }
        html.push_str("</tr>");
    }
    html + "</table>"
}

fn bench_html(b: &BenchReport) -> String {
    let ok = |x: &&BenchResult| x.error.is_none();
    let svg = match b.suite.as_str() {
        "startup" => {
            let bars: Vec<Bar> = b.results.iter().filter(ok).filter(|x| x.benchmark == "hello").filter_map(|x| {
                Some(Bar { label: arm_label(x), value: x.median_ms?, range: Some((x.p10_ms?, x.p90_ms?)), key: x.target.clone() })
            }).collect();
            let sized: Vec<Bar> = b.results.iter().filter(ok).filter(|x| x.benchmark.starts_with("code-")).filter_map(|x| {
                Some(Bar { label: format!("{} {}", x.benchmark, arm_label(x)), value: x.median_ms?, range: Some((x.p10_ms?, x.p90_ms?)), key: x.variant.clone().unwrap_or_default() })
            }).collect();
            let busy: Vec<Bar> = b.results.iter().filter(ok).filter(|x| x.benchmark == crate::bench::BUSY).filter_map(|x| {
                Some(Bar { label: arm_label(x), value: x.median_ms?, range: Some((x.p10_ms?, x.p90_ms?)), key: x.target.clone() })
            }).collect();
            let crun = median_of(b, "hello", "crun", None);
            let busy_crun = median_of(b, crate::bench::BUSY, "crun", None);
            chart::bars("Startup: hello, whole run from command to exit (median, p10-p90)", "milliseconds", &bars, crun.map(|c| (c, "crun median")))
                + &chart::bars("Startup on a busy machine: hello beside a CPU-bound neighbour on every core (median, p10-p90)", "milliseconds", &busy, busy_crun.map(|c| (c, "crun median")))
                + &chart::bars(
                    "Startup against code size: isola-wasm cold (empty cache; tiered: Winch, optimised code compiled in the background), cold with Cranelift only, and warm (median, p10-p90)",
                    "milliseconds",
                    &sized,
                    crun.map(|c| (c, "crun native hello median")),
                )
        }
        "compute" => {
            let mut bars: Vec<Bar> = b.results.iter().filter(ok).filter(|x| x.target != "native").filter_map(|x| {
                Some(Bar { label: format!("{} {}", x.benchmark, arm_label(x)), value: x.ratio_to_native?, range: None, key: arm_label(x) })
            }).collect();
            for (t, g) in compute_geomeans(b) {
                bars.push(Bar { label: format!("GEOMEAN {t}"), value: g, range: None, key: "geomean".into() });
            }
            chart::bars("Compute: wasm time / native time per kernel (lower is better)", "ratio to native (medians)", &bars, Some((1.0, "native = 1.0")))
        }
        "memory" => {
            let bars: Vec<Bar> = b.results.iter().filter(ok).filter_map(|x| {
                Some(Bar { label: format!("{} USS", x.target), value: x.uss_kib? / 1024.0, range: None, key: x.target.clone() })
            }).collect();
            let pss: Vec<Bar> = b.results.iter().filter(ok).filter_map(|x| {
                Some(Bar { label: format!("{} PSS", x.target), value: x.pss_kib? / 1024.0, range: None, key: x.target.clone() })
            }).collect();
            chart::bars("Memory: unique memory (USS) of one idle sandbox beside a neighbour", "MiB", &bars, Some((8.0, "8 MiB target")))
                + &chart::bars("Memory: proportional set size (PSS) of one idle sandbox", "MiB", &pss, None)
        }
        "density" => {
            let n = b.results.iter().find_map(|x| x.sandboxes).unwrap_or(0);
            let mem: Vec<Bar> = b.results.iter().filter(ok).filter_map(|x| {
                Some(Bar { label: x.target.clone(), value: x.total_pss_kib? / 1024.0, range: None, key: x.target.clone() })
            }).collect();
            let time: Vec<Bar> = b.results.iter().filter(ok).filter_map(|x| {
                Some(Bar { label: x.target.clone(), value: x.median_ms?, range: None, key: x.target.clone() })
            }).collect();
            chart::bars(&format!("Density: summed PSS of {n} idle sandboxes"), "MiB", &mem, None)
                + &chart::bars(&format!("Density: time until all {n} sandboxes run"), "milliseconds", &time, None)
        }
        "e2e" => {
            let bars: Vec<Bar> = b.results.iter().filter(ok).filter(|x| x.benchmark == "pod-start").filter_map(|x| {
                Some(Bar { label: x.target.clone(), value: x.median_ms?, range: Some((x.p10_ms?, x.p90_ms?)), key: x.target.clone() })
            }).collect();
            let runc = b.results.iter().find(|x| x.benchmark == "pod-start" && x.target == "runc").and_then(|x| x.median_ms);
            let memory: Vec<Bar> = b.results.iter().filter(ok).filter(|x| x.benchmark == "pod-memory").filter_map(|x| {
                Some(Bar { label: x.target.clone(), value: x.pss_kib? / 1024.0, range: None, key: x.target.clone() })
            }).collect();
            let pods = b.results.iter().find(|x| x.benchmark == "pod-memory").and_then(|x| x.sandboxes).unwrap_or(0);
            let runc_memory = b.results.iter().find(|x| x.benchmark == "pod-memory" && x.target == "runc").and_then(|x| x.pss_kib);
            chart::bars("Pod start through containerd's CRI: RunPodSandbox + CreateContainer + StartContainer until exited (median, p10-p90)", "milliseconds", &bars, runc.map(|r| (r, "runc median")))
                + &chart::bars(
                    &format!("Per-pod memory, {pods} pods at once: PSS of each pod's shim, runtime and workload"),
                    "MiB per pod",
                    &memory,
                    runc_memory.map(|r| (r / 1024.0, "runc native pod")),
                )
        }
        _ => String::new(),
    };
    format!("<h2>Bench: {}</h2>{svg}{}", esc(&b.suite), bench_table(b))
}

fn attack_html(a: &AttackReport) -> String {
    let profile = a.profile.as_deref().unwrap_or("?");
    let mut h = format!("<h2>Attack matrix: {} profile</h2>", esc(profile));
    h.push_str("<p>Colours: <span class=\"v-escaped\">escaped/leaked</span> <span class=\"v-contained\">contained</span> <span class=\"v-blocked\">blocked</span> <span class=\"v-not-expressible\">not expressible</span> <span class=\"v-error\">error</span> <span class=\"v-skipped\">skipped</span>. Click a cell for its evidence. Faded rows: the attack did not succeed against <code>native</code> (a broken probe), so nothing in that row counts as a defence.</p>");
    // Per-group totals per target.
    let mut groups: BTreeMap<(usize, String), BTreeMap<String, [usize; 2]>> = BTreeMap::new();
    for s in &a.scenarios {
        let e = groups.entry((group_rank(&s.group), s.group.clone())).or_default();
        for (t, c) in &s.results {
            let slot = e.entry(t.clone()).or_default();
            slot[1] += 1;
            if c.verdict.is_breach() {
                slot[0] += 1;
            }
        }
    }
    h.push_str("<h3>Breaches per group (escaped+leaked / scenarios)</h3><table><tr><th>group</th>");
    for t in &a.targets {
        let _ = write!(h, "<th>{}</th>", esc(t));
    }
    h.push_str("</tr>");
    for ((_, g), per) in &groups {
        let _ = write!(h, "<tr><td>{}</td>", esc(g));
        for t in &a.targets {
            let [b, n] = per.get(t).copied().unwrap_or_default();
            let class = if t == "native" { "" } else if b > 0 { "v-escaped" } else { "v-blocked" };
            let _ = write!(h, "<td class=\"{class}\">{b} / {n}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    let _ = GROUPS;
    h.push_str("<h3>Matrix</h3><table><tr><th>id</th><th>title</th><th>control</th>");
    for t in &a.targets {
        let _ = write!(h, "<th>{}</th>", esc(t));
    }
    h.push_str("</tr>");
    for s in &a.scenarios {
        let row_class = if s.control == "ok" { "" } else { "unverified" };
        let _ = write!(h, "<tr class=\"{row_class}\"><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td>", esc(&s.id), esc(&s.title), esc(&s.group), esc(&s.control));
        for t in &a.targets {
            match s.results.get(t) {
                Some(c) => {
                    let _ = write!(
                        h,
                        "<td class=\"v-{}\" title=\"{}\"><details><summary>{}</summary><div>{}</div></details></td>",
                        c.verdict.as_str(),
                        esc(&c.evidence),
                        short(c.verdict),
                        esc(&c.evidence)
                    );
                }
                None => h.push_str("<td>-</td>"),
            }
        }
        h.push_str("</tr>");
    }
    h + "</table>" + &format!("<pre>{}</pre>", esc(&attack_totals_markdown(a)))
}
