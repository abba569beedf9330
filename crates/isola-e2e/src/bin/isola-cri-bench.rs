//! CRI pod-start benchmark: isola running a wasm pod against runc running the same program as a
//! native pod (and isola running the native pod), through a private containerd, interleaved.
//!
//! Per-pod memory: `--pods N` pods of each target at once (default 50), PSS of each pod's shim tree.
//!
//! Usage: isola-cri-bench --isola target/release/isola --runs 20 --pods 50 --json cri-bench.json
//! (as root; `cargo run --release -p isola-e2e --bin isola-cri-bench -- ...`)

use anyhow::{bail, Context, Result};
use isola_e2e::bench::{percentile, pod_memory, pod_start, targets, PodMemory, Phases, BENCHMARKS};
use isola_e2e::harness::{runc_binary, Harness};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Args {
    isola: PathBuf,
    runs: usize,
    /// Pods per target held at once for the per-pod memory figure (0: not measured).
    pods: usize,
    json: Option<PathBuf>,
}

const USAGE: &str = "usage: isola-cri-bench [--isola PATH] [--runs N] [--pods N] [--json FILE]";

fn parse_args() -> Result<Args> {
    let mut isola = None;
    let mut runs = 20;
    let mut pods = 50;
    let mut json = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--isola" => isola = Some(PathBuf::from(it.next().context("--isola needs a path")?)),
            "--runs" => runs = it.next().context("--runs needs a number")?.parse().context("--runs")?,
            "--pods" => pods = it.next().context("--pods needs a number")?.parse().context("--pods")?,
            "--json" => json = Some(PathBuf::from(it.next().context("--json needs a path")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} ({USAGE})"),
        }
    }
    let isola = match isola {
        Some(p) => p
            .canonicalize()
            .with_context(|| format!("isola binary {}", p.display()))?,
        None => isola_e2e::harness::isola_binary()?,
    };
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    Ok(Args { isola, runs, pods, json })
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .unwrap_or_default()
}

fn machine(containerd: &str, isola: &Path, runwasi: Option<&Path>) -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: Option<u64> = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches(" kB").parse().ok());
    serde_json::json!({
        "hostname": first_line("hostname", &[]),
        "kernel": first_line("uname", &["-r"]),
        "cpu": cpu,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory_mib": mem_kb.map(|k| k / 1024),
        "containerd": containerd,
        "runc": first_line(&runc_binary().map(|p| p.display().to_string()).unwrap_or_default(), &["--version"]),
        "isola": first_line(&isola.display().to_string(), &["--version"]),
        "runwasi": runwasi.map(|p| format!(
            "runwasi's containerd-shim-wasm 1.0.1 with a minimal wasmtime 48.0.8 engine (isola's crates/isola-lab/peers/containerd-shim-wasmtime, {})",
            p.display()
        )),
    })
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let h = Harness::start(&args.isola)?;
    let cri = h.cri().clone();
    let containerd = h.rt.block_on(cri.version())?;
    let targets = targets(&h);
    let runwasi = h.layout.runwasi_shim.clone();
    let mut samples: Vec<Vec<Phases>> = vec![Vec::new(); targets.len()];
    h.rt.block_on(async {
        for t in &targets {
            pod_start(&h, &cri, t)
                .await
                .with_context(|| format!("warm-up {}", t.name))?;
        }
        for round in 0..args.runs {
            for (i, t) in targets.iter().enumerate() {
                let p = pod_start(&h, &cri, t)
                    .await
                    .with_context(|| format!("round {round} {}", t.name))?;
                samples[i].push(p);
            }
        }
        anyhow::Ok(())
    })?;
    let mut memory: Vec<PodMemory> = Vec::new();
    if args.pods > 0 {
        h.rt.block_on(async {
            for t in &targets {
                memory.push(
                    pod_memory(&h, &cri, t, args.pods)
                        .await
                        .with_context(|| format!("pod memory {}", t.name))?,
                );
            }
            anyhow::Ok(())
        })?;
    }
    drop(h); // tears down before writing results

    let mut results = Vec::new();
    println!(
        "CRI pod start, {} runs per target, interleaved (medians, ms)",
        args.runs
    );
    print!("{:<27}", "benchmark");
    for t in &targets {
        print!("{:>17}", t.name);
    }
    println!();
    for (bench, phase) in BENCHMARKS {
        print!("{bench:<27}");
        for (i, t) in targets.iter().enumerate() {
            let v: Vec<f64> = samples[i].iter().map(phase).collect();
            let median = percentile(&v, 0.5);
            print!("{median:>17.1}");
            results.push(serde_json::json!({
                "benchmark": bench,
                "target": t.name,
                "runs": v.len(),
                "median_ms": median,
                "p10_ms": percentile(&v, 0.1),
                "p90_ms": percentile(&v, 0.9),
                "min_ms": percentile(&v, 0.0),
                "max_ms": percentile(&v, 1.0),
            }));
        }
        println!();
    }
    if !memory.is_empty() {
        print!("{:<27}", format!("pod memory, {} pods (MiB)", args.pods));
        for m in &memory {
            print!("{:>17.1}", m.pss_kib_per_pod / 1024.0);
        }
        println!("\n  (PSS of each pod's shim and everything below it, per pod; host MemAvailable drop per pod: {})",
            memory.iter().zip(&targets).map(|(m, t)| format!("{} {:.1}", t.name, m.host_delta_kib_per_pod / 1024.0)).collect::<Vec<_>>().join(", "));
        for (m, t) in memory.iter().zip(&targets) {
            results.push(serde_json::json!({
                "benchmark": "pod-memory",
                "target": t.name,
                "runs": 1,
                "sandboxes": m.pods,
                "pss_kib": m.pss_kib_per_pod,
                "total_pss_kib": m.pss_kib_per_pod * m.pods as f64,
                "host_delta_kib": m.host_delta_kib_per_pod * m.pods as f64,
            }));
        }
    }
    let total = |i: usize| percentile(&samples[i].iter().map(|p| p.total).collect::<Vec<_>>(), 0.5);
    println!(
        "pod-start ratio isola-wasm/runc: {:.2} (target of issue 6: <= 1.00)",
        total(0) / total(1)
    );
    if let Some(i) = targets.iter().position(|t| t.name == "runwasi") {
        println!(
            "pod-start ratio isola-wasm/runwasi peer: {:.2} (target of issue 15: <= 0.80)",
            total(0) / total(i)
        );
    }
    let at = |name: &str| targets.iter().position(|t| t.name == name);
    if let (Some(shim), Some(runc)) = (at("isola-shim-wasm"), at("runc")) {
        println!(
            "pod-start ratio isola-shim-wasm/runc: {:.2} (target of issue 14: <= 0.50)",
            total(shim) / total(runc)
        );
        if !memory.is_empty() {
            let (s, r) = (&memory[shim], &memory[runc]);
            println!(
                "per-pod memory isola-shim-wasm/runc: {:.2} (target of issue 14: <= 0.33); {} idle isola-shim-wasm pods: {:.0} MiB of host memory, {:.0} MiB PSS",
                s.pss_kib_per_pod / r.pss_kib_per_pod,
                s.pods,
                s.host_delta_kib_per_pod * s.pods as f64 / 1024.0,
                s.pss_kib_per_pod * s.pods as f64 / 1024.0,
            );
        }
    }
    println!(
        "reproduce: cargo run --release -p isola-e2e --bin isola-cri-bench -- --isola {} --runs {} --pods {}",
        args.isola.display(),
        args.runs,
        args.pods
    );
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "suite": "e2e",
            "machine": machine(&containerd, &args.isola, runwasi.as_deref()),
            "results": results,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
