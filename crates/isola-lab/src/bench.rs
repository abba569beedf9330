//! The benchmark suites (startup, compute, memory, density): warm-up, targets interleaved run by
//! run, median/p10/p90 over N runs, ratios from medians, the machine recorded. It must never
//! report a compute figure whose checksum disagrees with native, nor leave a sandbox running.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::bundle::Profile;
use crate::compile::{c_files, Artifact};
use crate::lab::Lab;
use crate::machine;
use crate::progress::Phase;
use crate::schema::{BenchReport, BenchResult};
use crate::stats::{round3, summarize};
use crate::target::{Job, Kind, Running, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    Startup,
    Compute,
    Memory,
    Density,
    /// Pod start through containerd's CRI (isola-e2e's `isola-cri-bench`), when containerd is here.
    E2e,
}

impl Suite {
    pub const ALL: [Suite; 5] = [Suite::Startup, Suite::Compute, Suite::Memory, Suite::Density, Suite::E2e];
    pub fn name(self) -> &'static str {
        match self {
            Suite::Startup => "startup",
            Suite::Compute => "compute",
            Suite::Memory => "memory",
            Suite::Density => "density",
            Suite::E2e => "e2e",
        }
    }
    pub fn default_targets(self) -> Vec<Kind> {
        use Kind::*;
        match self {
            Suite::Compute => vec![Native, IsolaWasm, Wasmtime, WasmerCranelift, WasmerLlvm],
            _ => vec![Native, IsolaContainer, IsolaWasm, Runc, Crun, Youki, Wasmtime, WasmerCranelift, WasmerLlvm],
        }
    }
    pub fn default_runs(self) -> usize {
        match self {
            Suite::Startup => 20,
            Suite::Compute => 5,
            Suite::Memory => 3,
            Suite::Density => 1,
            Suite::E2e => 10,
        }
    }
    pub fn quick_runs(self) -> usize {
        match self {
            Suite::Startup => 10,
            Suite::Compute => 3,
            Suite::Memory => 2,
            Suite::Density => 1,
            Suite::E2e => 10,
        }
    }
    /// `all --smoke` (CI): enough to prove every suite works, not to publish.
    pub fn smoke_runs(self) -> usize {
        match self {
            Suite::Startup => 3,
            Suite::Compute => 1,
            Suite::Memory => 1,
            Suite::Density => 1,
            Suite::E2e => 2,
        }
    }
        pub fn full_runs(self) -> usize {
        match self {
            Suite::Startup => 50,
            Suite::Compute => 10,
            Suite::Memory => 5,
            Suite::Density => 3,
            Suite::E2e => 30,
        }
    }
}

pub struct Options {
    pub runs: usize,
    pub density_n: usize,
    pub only: Vec<String>,
    /// CI's smoke size: the start-up curve against code size has one point.
    pub smoke: bool,
}

pub fn hello_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hello.c")
}
pub fn idle_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idle.c")
}

/// How an arm treats isola's module cache.
#[derive(Clone)]
enum Cache {
    None,
    Warm(PathBuf),
    /// A fresh, empty cache directory for every run, under the node's default compiler or the
    /// one named (`wasm.compiler`).
    Cold(Option<&'static str>),
}

/// One (target, variant) column of a benchmark.
struct Arm {
    target: Target,
    variant: Option<&'static str>,
    cache: Cache,
    precompiled: Option<PathBuf>,
    samples: Vec<f64>,
    error: Option<String>,
    checksum: Option<String>,
    /// Lines added to isola's `[wasm]` node table for this arm.
    wasm_keys: &'static str,
    /// A peer's failed runs (count, first error): the arm goes on, and the row says so. A failed
    /// run of native or isola ends its arm at once (`error`), and the lab's gate fails on it.
    failures: (usize, Option<String>),
}

impl Arm {
    fn new(target: &Target, variant: Option<&'static str>, cache: Cache) -> Self {
        Arm { target: target.clone(), variant, cache, precompiled: None, samples: vec![], error: None, checksum: None, wasm_keys: "", failures: (0, None) }
    }
}

/// A node policy file pointing isola's module cache at `cache` (root-owned, mode 0700, as
/// isola requires of a cache it will trust).
pub(crate) fn write_isola_config(dir: &Path, cache: &Path) -> Result<PathBuf> {
    write_isola_config_with(dir, cache, "")
}

/// As [`write_isola_config`], with `wasm_keys` (lines of `key = value`) in the `[wasm]` table.
fn write_isola_config_with(dir: &Path, cache: &Path, wasm_keys: &str) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(cache)?;
    std::fs::set_permissions(cache, std::fs::Permissions::from_mode(0o700))?;
    let file = dir.join("isola-config.toml");
    std::fs::write(&file, format!("[wasm]\nmodule-cache = \"{}\"\n{wasm_keys}", cache.display()))?;
    Ok(file)
}

/// Fills isola's module cache `cache` with the optimised code of `wasm` (`isola precompile`),
/// so a warm arm measures warm starts from its first run: under the node's tiered default a
/// first start runs baseline code until its background compile is done.
pub(crate) fn warm_isola_cache(t: &Target, dir: &Path, cache: &Path, wasm: &Path, wasm_keys: &str) -> Result<()> {
    let config = write_isola_config_with(dir, cache, wasm_keys)?;
    let out = std::process::Command::new(&t.binary).arg("--config").arg(&config).arg("precompile").arg(wasm).output()?;
    if !out.status.success() {
        anyhow::bail!("isola precompile: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Runs one arm once; returns the wall time in ms, checking exit 0 and `expect` in stdout.
fn run_once(lab: &Lab, arm: &Arm, art: &Artifact, timeout: Duration, tag: &str) -> Result<(f64, String)> {
    let work = lab.run_dir(&format!("bench-{tag}-{}", arm.target.name()))?;
    let config = match &arm.cache {
        Cache::None => None,
        Cache::Warm(_) if arm.target.kind.is_wasmer() => None,
        Cache::Warm(dir) => Some(write_isola_config_with(&work, dir, arm.wasm_keys)?),
        Cache::Cold(compiler) => {
            let keys = format!("{}{}", compiler.map(|c| format!("compiler = \"{c}\"\n")).unwrap_or_default(), arm.wasm_keys);
            Some(write_isola_config_with(&work, &work.join("cold-cache"), &keys)?)
        }
    };
    // Wasmer's warm arm uses its own cache, filled by the arm's untimed first run.
    let engine_cache = match &arm.cache {
        Cache::Warm(dir) if arm.target.kind.is_wasmer() => Some(dir.as_path()),
        _ => None,
    };
    let wasm = arm.precompiled.as_deref().or(art.wasm.as_ref().ok().map(|p| p.as_path()));
    let job = Job {
        native: art.native.as_ref().ok().map(|p| p.as_path()),
        wasm,
        args: &[],
        profile: Profile::Plain,
        timeout,
        runtime_env: &[],
        work_dir: &work,
        isola_config: config.as_deref(),
        shadow_secret: "bench",
        precompiled: arm.precompiled.is_some(),
        engine_cache,
        safety_cgroup: false,
        wasm_timeout_ms: 0,
    };
    let r = arm.target.run(&job);
    let _ = std::fs::remove_dir_all(&work);
    let r = r?;
    if !r.ok() {
        let why = String::from_utf8_lossy(&r.stderr).lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        anyhow::bail!("{:?}: {}", r.ending, why.chars().take(200).collect::<String>());
    }
    Ok((r.wall_ms(), String::from_utf8_lossy(&r.stdout).to_string()))
}

/// Warm-up once per arm, then `runs` rounds with the arms interleaved (A B A B ...).
fn measure(lab: &Lab, arms: &mut [Arm], art: &Artifact, runs: usize, timeout: Duration, tag: &str, pb: &Phase) {
    for arm in arms.iter_mut().filter(|a| a.error.is_none() && a.target.missing.is_none()) {
        if arm.target.kind.is_wasmer() {
            continue;
        }
        if let (Cache::Warm(cache), Ok(wasm)) = (&arm.cache, &art.wasm) {
            let warmed = lab.run_dir(&format!("warm-{tag}")).and_then(|dir| warm_isola_cache(&arm.target, &dir, cache, wasm, arm.wasm_keys));
            if let Err(e) = warmed {
                arm.error = Some(format!("{e:#}"));
            }
        }
    }
    for round in 0..=runs {
        for arm in arms.iter_mut().filter(|a| a.error.is_none() && a.target.missing.is_none()) {
            pb.set_message(format!("{tag} {}{}", arm.target.name(), arm.variant.map(|v| format!(" ({v})")).unwrap_or_default()));
            let result = run_once(lab, arm, art, timeout, tag);
            if matches!(arm.cache, Cache::Cold(_)) {
                stop_background_compiles();
            }
            match result {
                Ok((ms, stdout)) => {
                    if round > 0 {
                        arm.samples.push(ms);
                    }
                    if let Some(line) = stdout.lines().find(|l| l.starts_with("CHECKSUM:")) {
                        arm.checksum = Some(line.trim().to_string());
                    }
                }
                Err(e) if is_peer(arm.target.kind) => {
                    arm.failures.0 += 1;
                    arm.failures.1.get_or_insert(format!("{e:#}"));
                }
                Err(e) => arm.error = Some(format!("{e:#}")),
            }
            pb.inc(1);
        }
    }
}

/// A target isola is compared against (not native, not isola itself).
fn is_peer(kind: Kind) -> bool {
    !matches!(kind, Kind::Native | Kind::IsolaContainer | Kind::IsolaWasm)
}

/// A cold run under the tiered default leaves a background compile filling a cache that is
/// about to be removed: stop it, so that it neither measures as load in the next runs nor
/// piles up. The lab is their subreaper (see [`startup`]), so they are its children.
fn stop_background_compiles() {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((comm, rest)) = stat.split_once(" (").and_then(|(_, r)| r.rsplit_once(") ")) else { continue };
        if comm == "isola-compile" && rest.split(' ').nth(1) == Some(me.as_str()) {
            // SAFETY: signalling and reaping a child the lab adopted.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

fn result_of(benchmark: &str, arm: &Arm) -> BenchResult {
    let mut r = BenchResult {
        benchmark: benchmark.to_string(),
        target: arm.target.name().to_string(),
        variant: arm.variant.map(str::to_string),
        runs: arm.samples.len(),
        checksum: arm.checksum.clone(),
        ..Default::default()
    };
    if let Some(why) = &arm.target.missing {
        r.error = Some(format!("skipped: {why}"));
    } else if let Some(e) = &arm.error {
        r.error = Some(e.clone());
    } else if arm.samples.is_empty() && arm.failures.0 > 0 {
        r.error = arm.failures.1.clone();
    } else if !arm.samples.is_empty() {
        if let (n, Some(first)) = &arm.failures {
            r.error = Some(format!("{n} of {} runs failed (first: {first}); the figures are the other runs'", n + arm.samples.len()));
        }
        let s = summarize(&arm.samples);
        r.median_ms = Some(round3(s.median));
        r.p10_ms = Some(round3(s.p10));
        r.p90_ms = Some(round3(s.p90));
    }
    r
}

pub fn run(lab: &Lab, suite: Suite, kinds: &[Kind], opts: &Options) -> Result<BenchReport> {
    let targets = lab.targets(kinds);
    let results = match suite {
        Suite::Startup => startup(lab, &targets, opts)?,
        Suite::Compute => compute(lab, &targets, opts)?,
        Suite::Memory => memory(lab, &targets, opts)?,
        Suite::Density => density(lab, &targets, opts)?,
        Suite::E2e => e2e(lab, opts)?,
    };
    Ok(BenchReport { suite: suite.name().to_string(), machine: machine::describe(&targets), results })
}

fn startup(lab: &Lab, targets: &[Target], opts: &Options) -> Result<Vec<BenchResult>> {
    // SAFETY: prctl with integer arguments. A cold isola-wasm run's background compile is
    // re-parented to the lab, which stops and reaps it (`stop_background_compiles`).
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let builder = lab.builder()?;
    let art = builder.build_single(&hello_source())?;
    let mut idle = hello_arms(lab, targets, &art, "warm");
    // The busy arm: the same starts with a CPU-bound neighbour on every core (Cranelift-only
    // cold starts left out: they measure the compiler, which the idle arm already shows).
    let mut busy = hello_arms(lab, targets, &art, "warm-busy");
    busy.retain(|a| a.variant != Some("cold-cranelift"));
    let pb = Phase::new(((opts.runs + 1) * (idle.len() + busy.len())) as u64, "startup");
    measure(lab, &mut idle, &art, opts.runs, Duration::from_secs(30), "hello", &pb);
    {
        let _neighbours = crate::load::Neighbours::start(crate::load::cores(), Duration::from_secs(1800))?;
        measure(lab, &mut busy, &art, opts.runs, Duration::from_secs(60), BUSY, &pb);
    }
    drop(pb);
    let mut out: Vec<BenchResult> = idle.iter().map(|a| result_of("hello", a)).collect();
    out.extend(busy.iter().map(|a| result_of(BUSY, a)));
    if let Some(isola_wasm) = targets.iter().find(|t| t.kind == Kind::IsolaWasm) {
        out.push(inprocess_floor(lab, &art, opts.runs));
        out.extend(startup_by_code_size(lab, isola_wasm, opts)?);
        out.extend(startup_interpreter(lab, &builder, isola_wasm, targets, opts));
    }
    Ok(out)
}

/// Benchmark name of the interpreter's start (QuickJS-ng running a small script).
pub const INTERPRETER: &str = "code-quickjs";

/// Where scripts/setup.sh put the QuickJS-ng source: `$ISOLA_SOURCES` (default
/// /var/cache/isola-sources), from PyPI's quickjs-ng 0.17.0.2 source distribution.
pub fn quickjs_source() -> Result<PathBuf, String> {
    let root = std::env::var_os("ISOLA_SOURCES").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/cache/isola-sources"));
    let dir = root.join("quickjs_ng-0.17.0.2/upstream-quickjs");
    if dir.join("quickjs.c").is_file() {
        Ok(dir)
    } else {
        Err(format!("no QuickJS-ng source in {} (scripts/setup.sh fetches it from PyPI)", dir.display()))
    }
}

/// The realistic large module of the start-up curve: QuickJS-ng built from source with the lab's
/// clang (about 1 MB of wasm code) running a small script. isola-wasm cold (tiered), cold with
/// Cranelift only and warm, beside the same interpreter built native under crun and
/// isola-container, interleaved. Without the source every row says skipped, and why.
fn startup_interpreter(lab: &Lab, builder: &crate::compile::Builder, isola_wasm: &Target, targets: &[Target], opts: &Options) -> Vec<BenchResult> {
    let built = quickjs_source().and_then(|dir| {
        let sources: Vec<PathBuf> = ["quickjs.c", "libregexp.c", "libunicode.c", "dtoa.c"].iter().map(|f| dir.join(f)).collect();
        let main = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/quickjs-hello.c");
        let all: Vec<PathBuf> = std::iter::once(main).chain(sources).collect();
        builder.build("quickjs-hello", &all, &[], &[dir], &[]).map_err(|e| format!("{e:#}"))
    });
    let mut arms = isola_wasm_arms(isola_wasm, lab.work.join("bench-cache/quickjs"));
    arms.extend(targets.iter().filter(|t| matches!(t.kind, Kind::Crun | Kind::IsolaContainer)).map(|t| Arm::new(t, None, Cache::None)));
    let art = match built {
        Ok(art) => art,
        Err(why) => {
            for arm in &mut arms {
                arm.error = Some(format!("skipped: {why}"));
            }
            return arms.iter().map(|a| result_of(INTERPRETER, a)).collect();
        }
    };
    let code_bytes = code_bytes_of(&art);
    let runs = opts.runs.clamp(1, 5);
    let pb = Phase::new((arms.len() * (runs + 1)) as u64, "startup: interpreter");
    measure(lab, &mut arms, &art, runs, Duration::from_secs(120), INTERPRETER, &pb);
    drop(pb);
    arms.iter()
        .map(|a| {
            let mut r = result_of(INTERPRETER, a);
            if a.target.kind == Kind::IsolaWasm {
                r.code_bytes = code_bytes;
            }
            r
        })
        .collect()
}

/// Bytes of code of an artifact's wasm build, for the curve's `code_bytes`.
fn code_bytes_of(art: &Artifact) -> Option<usize> {
    let module = std::fs::read(art.wasm.as_ref().ok()?).ok()?;
    crate::genwasm::code_section_bytes(&module)
}

/// isola-wasm's three start arms: `warm` (the cache `warm_cache`, filled with the optimised code
/// first), `cold` (an empty cache, the node's default compiler: tiered) and `cold-cranelift`
/// (an empty cache, Cranelift only).
fn isola_wasm_arms(t: &Target, warm_cache: PathBuf) -> Vec<Arm> {
    let _ = std::fs::remove_dir_all(&warm_cache);
    vec![
        Arm::new(t, Some("warm"), Cache::Warm(warm_cache)),
        Arm::new(t, Some("cold"), Cache::Cold(None)),
        Arm::new(t, Some("cold-cranelift"), Cache::Cold(Some("cranelift"))),
    ]
}

/// Benchmark name of the hello starts measured beside a CPU-bound neighbour on every core.
pub const BUSY: &str = "hello-busy";

/// The hello arms of every target: isola-wasm warm, cold (tiered) and cold with Cranelift only;
/// the wasmtime CLI compiling and precompiled; Wasmer without and with its cache; one arm for
/// the rest. `warm` names the arms' cache directories under the lab's bench cache.
fn hello_arms(lab: &Lab, targets: &[Target], art: &Artifact, warm: &str) -> Vec<Arm> {
    let mut arms = Vec::new();
    for t in targets {
        match t.kind {
            Kind::IsolaWasm => arms.extend(isola_wasm_arms(t, lab.work.join(format!("bench-cache/{warm}")))),
            Kind::Wasmtime => {
                arms.push(Arm::new(t, Some("cold"), Cache::None));
                let mut pre = Arm::new(t, Some("precompiled"), Cache::None);
                match precompile(t, art, &lab.work.join("bench-cache")) {
                    Ok(p) => pre.precompiled = Some(p),
                    Err(e) => pre.error = Some(format!("wasmtime compile: {e:#}")),
                }
                arms.push(pre);
            }
            Kind::WasmerCranelift | Kind::WasmerLlvm => {
                arms.push(Arm::new(t, Some("cold"), Cache::None));
                let cache = lab.work.join(format!("bench-cache/{warm}-{}", t.name()));
                let _ = std::fs::remove_dir_all(&cache);
                arms.push(Arm::new(t, Some("cached"), Cache::Warm(cache)));
            }
            _ => arms.push(Arm::new(t, None, Cache::None)),
        }
    }
    arms
}

/// Code sizes of the start-up curve: generated modules (see `genwasm`) beside the hello.
fn code_sizes(opts: &Options) -> Vec<(usize, bool)> {
    // (bytes of code, measure the Cranelift-only cold start too: 20 MB of it takes ~30 s a run)
    if opts.smoke { vec![(100 << 10, true)] } else { vec![(100 << 10, true), (1 << 20, true), (5 << 20, true), (20 << 20, false)] }
}

/// isola-wasm's start against code size: `cold` (empty cache, the node's default compiler:
/// tiered, so Winch), `cold-cranelift` (empty cache, Cranelift only) and `warm` (the cache holds
/// the optimised code). Benchmarks are named `code-<size>`; fewer runs for the big modules.
fn startup_by_code_size(lab: &Lab, t: &Target, opts: &Options) -> Result<Vec<BenchResult>> {
    let dir = lab.run_dir("code-size-modules")?;
    let mut out = Vec::new();
    let sizes = code_sizes(opts);
    let pb = Phase::new((sizes.len() * 3 * (opts.runs.min(5) + 1)) as u64, "startup by code size");
    for (bytes, with_cranelift) in sizes {
        let name = format!("code-{}", crate::genwasm::size_label(bytes));
        let wasm = dir.join(format!("{name}.wasm"));
        std::fs::write(&wasm, crate::genwasm::module_of_code_size(bytes))?;
        let art = Artifact { name: name.clone(), native: Err("a generated wasm module has no native build".into()), wasm: Ok(wasm) };
        let mut arms = isola_wasm_arms(t, lab.work.join(format!("bench-cache/{name}")));
        if !with_cranelift {
            arms.retain(|a| a.variant != Some("cold-cranelift"));
        }
        // Compiling megabytes of small functions takes more than the node's default bound of
        // 512 MiB (the wasmtime CLI's Winch took 330 MiB for 5 MB of code; isola's Winch compile of
        // 20 MB was killed at 512 MiB).
        for arm in &mut arms {
            arm.wasm_keys = "compile-memory = 4294967296\ncompile-timeout-ms = 120000\n";
        }
        let runs = if bytes > 1 << 20 { opts.runs.clamp(1, 3) } else { opts.runs.clamp(1, 5) };
        measure(lab, &mut arms, &art, runs, Duration::from_secs(300), &name, &pb);
        let code_bytes = code_bytes_of(&art);
        out.extend(arms.iter().map(|a| BenchResult { code_bytes, ..result_of(&name, a) }));
    }
    drop(pb);
    Ok(out)
}

/// Target name of the in-process floor row.
pub const INPROCESS: &str = "wasmtime-inprocess";

/// The in-process floor: what a wasm start costs with no process, namespace or cgroup at all.
/// isola's own wasm layer (the `isola-wasm` library, the same engine settings as `isola run`)
/// with the pooling allocator loads the precompiled hello module once, then each sample makes a
/// fresh store and WASI context, instantiates and runs it (stdout to /dev/null). Many more
/// samples than process starts, since each is ~0.1 ms.
fn inprocess_floor(lab: &Lab, art: &Artifact, runs: usize) -> BenchResult {
    let mut r = BenchResult { benchmark: "hello".into(), target: INPROCESS.into(), variant: Some("warm".into()), ..Default::default() };
    match inprocess_samples(lab, art, (runs * 20).clamp(50, 2000)) {
        Ok(us) => {
            let s = summarize(&us);
            r.runs = us.len();
            (r.median_us, r.p10_us, r.p90_us) = (Some(round3(s.median)), Some(round3(s.p10)), Some(round3(s.p90)));
            (r.median_ms, r.p10_ms, r.p90_ms) = (Some(s.median / 1000.0), Some(s.p10 / 1000.0), Some(s.p90 / 1000.0));
        }
        Err(e) => r.error = Some(format!("{e:#}")),
    }
    r
}

/// Microseconds per instantiate+run of the precompiled module, after one warm-up.
fn inprocess_samples(lab: &Lab, art: &Artifact, n: usize) -> Result<Vec<f64>> {
    use isola_wasm::{Allocator, Guest, GuestStdio, ModuleCache, Sandbox, SandboxConfig};
    let wasm = art.wasm.as_ref().map_err(|e| anyhow::anyhow!("hello.wasm: {e}"))?;
    let cache = ModuleCache::new(lab.work.join("bench-cache/inprocess")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let sandbox = Sandbox::with_allocator(&SandboxConfig::default(), cache, Allocator::Pooling).map_err(|e| anyhow::anyhow!("{e}"))?;
    sandbox.precompile(wasm).map_err(|e| anyhow::anyhow!("{e}"))?;
    let loaded = sandbox.load(wasm).map_err(|e| anyhow::anyhow!("{e}"))?;
    let guest = Guest { module: wasm.clone(), args: vec!["hello".into()], ..Default::default() };
    let mut samples = Vec::with_capacity(n);
    for i in 0..=n {
        let stdio = GuestStdio { stdout: Some(std::fs::OpenOptions::new().write(true).open("/dev/null")?), ..Default::default() };
        let t = Instant::now();
        let prepared = sandbox.start(&loaded, &guest, stdio).map_err(|e| anyhow::anyhow!("{e}"))?;
        let outcome = prepared.run();
        let us = t.elapsed().as_secs_f64() * 1e6;
        if outcome.exit_code() != 0 {
            anyhow::bail!("in-process hello exited {}: {}", outcome.exit_code(), outcome.reason().unwrap_or_default());
        }
        if i > 0 {
            samples.push(us);
        }
    }
    Ok(samples)
}

/// `wasmtime compile` into the bench cache (the CLI's own precompiled path).
fn precompile(t: &Target, art: &Artifact, dir: &Path) -> Result<PathBuf> {
    let wasm = art.wasm.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::create_dir_all(dir)?;
    let out = dir.join("hello.cwasm");
    let st = std::process::Command::new(&t.binary).arg("compile").arg(wasm).arg("-o").arg(&out).output()?;
    if !st.status.success() {
        anyhow::bail!("{}", String::from_utf8_lossy(&st.stderr).trim());
    }
    Ok(out)
}

fn compute(lab: &Lab, targets: &[Target], opts: &Options) -> Result<Vec<BenchResult>> {
    let builder = lab.builder()?;
    let mut kernels = c_files(&lab.payloads.join("bench"));
    if !opts.only.is_empty() {
        kernels.retain(|k| opts.only.iter().any(|o| k.file_stem().is_some_and(|s| s == o.as_str())));
    }
    if kernels.is_empty() {
        anyhow::bail!("no compute kernels in {}", lab.payloads.join("bench").display());
    }
    let warm_cache = lab.work.join("bench-cache/compute");
    let arms_per_kernel = targets.len() + targets.iter().filter(|t| t.kind == Kind::IsolaWasm).count();
    let per_kernel = (opts.runs + 1) * arms_per_kernel;
    let pb = Phase::new((kernels.len() * per_kernel) as u64, "compute");
    let mut out = Vec::new();
    for k in &kernels {
        let art = builder.build_single(k)?;
        let name = art.name.clone();
        let mut arms: Vec<Arm> = Vec::new();
        for t in targets {
            let build = if t.kind.is_wasm() { &art.wasm } else { &art.native };
            // Steady-state code: isola's warm cache, and Wasmer's own cache (filled by the untimed
            // first run; its LLVM backend takes seconds to compile a kernel). The wasmtime CLI
            // compiles each run, as it does by default.
            let cache = match t.kind {
                Kind::IsolaWasm => Cache::Warm(warm_cache.clone()),
                k if k.is_wasmer() => Cache::Warm(lab.work.join(format!("bench-cache/compute-{}", t.name()))),
                _ => Cache::None,
            };
            let mut variants = vec![Arm::new(t, None, cache)];
            if t.kind == Kind::IsolaWasm {
                // What a tiered first start's code costs: the same kernel on Winch's code.
                let mut winch = Arm::new(t, Some("winch"), Cache::Warm(warm_cache.join("winch")));
                winch.wasm_keys = "compiler = \"winch\"\n";
                variants.push(winch);
            }
            for mut a in variants {
                if let Err(e) = build {
                    a.error = Some(format!("build failed: {e}"));
                }
                arms.push(a);
            }
        }
        measure(lab, &mut arms, &art, opts.runs, Duration::from_secs(120), &name, &pb);
        let native = arms.iter().find(|a| a.target.kind == Kind::Native && a.error.is_none() && !a.samples.is_empty());
        let native_median = native.map(|a| summarize(&a.samples).median);
        let native_sum = native.and_then(|a| a.checksum.clone());
        for arm in &arms {
            let mut r = result_of(&name, arm);
            if r.error.is_none() && arm.target.missing.is_none() {
                if arm.checksum.is_none() {
                    r.error = Some("no CHECKSUM: line in the output".into());
                } else if native_sum.is_some() && arm.checksum != native_sum {
                    r.error = Some(format!(
                        "checksum mismatch: native {} vs {} {}",
                        native_sum.clone().unwrap_or_default(),
                        arm.target.name(),
                        arm.checksum.clone().unwrap_or_default()
                    ));
                } else if let (Some(n), Some(m)) = (native_median, r.median_ms) {
                    r.ratio_to_native = Some(round3(m / n));
                }
            }
            out.push(r);
        }
    }
    drop(pb);
    Ok(out)
}

fn idle_job<'a>(art: &'a Artifact, work: &'a Path, config: Option<&'a Path>) -> Job<'a> {
    Job {
        native: art.native.as_ref().ok().map(|p| p.as_path()),
        wasm: art.wasm.as_ref().ok().map(|p| p.as_path()),
        args: &[],
        profile: Profile::Plain,
        timeout: Duration::from_secs(600),
        runtime_env: &[],
        work_dir: work,
        isola_config: config,
        shadow_secret: "bench",
        precompiled: false,
        engine_cache: None,
        safety_cgroup: false,
        wasm_timeout_ms: 0,
    }
}

/// Sums (rss, pss, uss, peak rss) over a sandbox's processes.
fn sandbox_memory(r: &Running) -> (u64, u64, u64, u64) {
    let mut sum = (0, 0, 0, 0);
    for pid in r.pids() {
        if let Some((rss, pss, uss)) = machine::smaps_rollup(pid) {
            sum.0 += rss;
            sum.1 += pss;
            sum.2 += uss;
            sum.3 += machine::peak_rss_kib(pid);
        }
    }
    sum
}

const SETTLE: Duration = Duration::from_millis(400);

fn memory(lab: &Lab, targets: &[Target], opts: &Options) -> Result<Vec<BenchResult>> {
    let builder = lab.builder()?;
    let art = builder.build_single(&idle_source())?;
    let cache = lab.work.join("bench-cache/idle");
    let pb = Phase::new((opts.runs * targets.len()) as u64, "memory");
    let mut samples: Vec<(Vec<[f64; 5]>, Option<String>)> = vec![(vec![], None); targets.len()];
    for _ in 0..opts.runs {
        for (i, t) in targets.iter().enumerate() {
            pb.inc(1);
            if t.missing.is_some() || samples[i].1.is_some() {
                continue;
            }
            pb.set_message(t.name());
            let work = lab.run_dir(&format!("mem-{}", t.name()))?;
            let config = if t.kind == Kind::IsolaWasm { Some(write_isola_config(&work, &cache)?) } else { None };
            // A neighbour of the same target runs alongside, as on any node with more than one
            // pod: pages every sandbox shares (the runtime's code) are then not charged to the
            // measured one's unique memory.
            let neighbour_work = lab.run_dir(&format!("mem-{}-neighbour", t.name()))?;
            let neighbour = match t.start_detached(&idle_job(&art, &neighbour_work, config.as_deref())) {
                Ok(n) => n,
                Err(e) => {
                    samples[i].1 = Some(format!("neighbour sandbox: {e:#}"));
                    let _ = std::fs::remove_dir_all(&neighbour_work);
                    let _ = std::fs::remove_dir_all(&work);
                    continue;
                }
            };
            let started = Instant::now();
            match t.start_detached(&idle_job(&art, &work, config.as_deref())) {
                Ok(running) => {
                    let start_ms = started.elapsed().as_secs_f64() * 1000.0;
                    std::thread::sleep(SETTLE);
                    let (rss, pss, uss, peak) = sandbox_memory(&running);
                    drop(running);
                    if rss == 0 {
                        samples[i].1 = Some("sandbox exited before it could be measured".into());
                    } else {
                        samples[i].0.push([rss as f64, pss as f64, uss as f64, peak as f64, start_ms]);
                    }
                }
                Err(e) => samples[i].1 = Some(format!("{e:#}")),
            }
            drop(neighbour);
            let _ = std::fs::remove_dir_all(&neighbour_work);
            let _ = std::fs::remove_dir_all(&work);
        }
    }
    drop(pb);
    Ok(targets
        .iter()
        .zip(samples)
        .map(|(t, (s, err))| {
            let med = |k: usize| Some(round3(crate::stats::median(&s.iter().map(|x| x[k]).collect::<Vec<_>>())));
            let mut r = BenchResult { benchmark: "idle".into(), target: t.name().into(), runs: s.len(), ..Default::default() };
            if let Some(why) = &t.missing {
                r.error = Some(format!("skipped: {why}"));
            } else if let Some(e) = err {
                r.error = Some(e);
            } else if !s.is_empty() {
                (r.rss_kib, r.pss_kib, r.uss_kib, r.peak_rss_kib) = (med(0), med(1), med(2), med(3));
            }
            r
        })
        .collect())
}

fn density(lab: &Lab, targets: &[Target], opts: &Options) -> Result<Vec<BenchResult>> {
    let n = opts.density_n.clamp(1, 1000);
    let builder = lab.builder()?;
    let art = builder.build_single(&idle_source())?;
    let cache = lab.work.join("bench-cache/idle");
    let pb = Phase::new((targets.len() * opts.runs.max(1)) as u64, &format!("density/{n}"));
    let mut out = Vec::new();
    for t in targets {
        let mut r = BenchResult { benchmark: format!("idle-x{n}"), target: t.name().into(), sandboxes: Some(n), ..Default::default() };
        if let Some(why) = &t.missing {
            r.error = Some(format!("skipped: {why}"));
            pb.inc(opts.runs.max(1) as u64);
            out.push(r);
            continue;
        }
        let mut times = Vec::new();
        let (mut deltas, mut psss) = (Vec::new(), Vec::new());
        for _ in 0..opts.runs.max(1) {
            pb.set_message(t.name());
            match density_once(lab, t, &art, &cache, n) {
                Ok((ms, delta, pss)) => {
                    times.push(ms);
                    deltas.push(delta);
                    psss.push(pss);
                }
                Err(e) => {
                    r.error = Some(format!("{e:#}"));
                    break;
                }
            }
            pb.inc(1);
        }
        if r.error.is_none() && !times.is_empty() {
            let s = summarize(&times);
            r.runs = times.len();
            (r.median_ms, r.p10_ms, r.p90_ms) = (Some(round3(s.median)), Some(round3(s.p10)), Some(round3(s.p90)));
            r.host_delta_kib = Some(round3(crate::stats::median(&deltas)));
            r.total_pss_kib = Some(round3(crate::stats::median(&psss)));
        }
        out.push(r);
    }
    drop(pb);
    Ok(out)
}

/// Starts `n` idle sandboxes from a pool of workers; returns (ms until all run, host
/// MemAvailable delta KiB, summed PSS KiB). Every sandbox is torn down before returning.
fn density_once(lab: &Lab, t: &Target, art: &Artifact, cache: &Path, n: usize) -> Result<(f64, f64, f64)> {
    let base = lab.run_dir(&format!("density-{}", t.name()))?;
    let config = if t.kind == Kind::IsolaWasm { Some(write_isola_config(&base, cache)?) } else { None };
    // Warm the module cache so every sandbox measures a warm start.
    if let Some(cfg) = &config {
        let w = base.join("warm");
        std::fs::create_dir_all(&w)?;
        drop(t.start_detached(&idle_job(art, &w, Some(cfg))).ok());
    }
    std::thread::sleep(Duration::from_millis(300));
    let before = machine::mem_available_kib();
    let running: Mutex<Vec<Running>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = (std::thread::available_parallelism().map(|c| c.get()).unwrap_or(2) * 4).min(n);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= n {
                    return;
                }
                let dir = base.join(format!("s{i}"));
                let r = std::fs::create_dir_all(&dir).context("dir").and_then(|_| t.start_detached(&idle_job(art, &dir, config.as_deref())));
                match r {
                    Ok(x) => running.lock().map(|mut v| v.push(x)).unwrap_or(()),
                    Err(e) => errors.lock().map(|mut v| v.push(format!("{e:#}"))).unwrap_or(()),
                }
            });
        }
    });
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    std::thread::sleep(SETTLE);
    let after = machine::mem_available_kib();
    let running = running.into_inner().unwrap_or_default();
    let pss: u64 = running.iter().map(|r| sandbox_memory(r).1).sum();
    let errors = errors.into_inner().unwrap_or_default();
    // Tear down in parallel, then remove the bundles.
    let chunks: Vec<Vec<Running>> = {
        let mut c: Vec<Vec<Running>> = (0..workers.max(1)).map(|_| Vec::new()).collect();
        for (i, r) in running.into_iter().enumerate() {
            c[i % workers.max(1)].push(r);
        }
        c
    };
    std::thread::scope(|s| {
        for c in chunks {
            s.spawn(move || drop(c));
        }
    });
    let _ = std::fs::remove_dir_all(&base);
    if let Some(e) = errors.first() {
        anyhow::bail!("{} of {n} sandboxes failed to start: {e}", errors.len());
    }
    Ok((ms, before.saturating_sub(after) as f64, pss as f64))
}

/// The CRI pod-start benchmark lives in isola-e2e (it needs a containerd and a CRI client);
/// the lab runs its binary, built next to `isola-lab`, and takes its results as they are.
fn e2e(lab: &Lab, opts: &Options) -> Result<Vec<BenchResult>> {
    let skipped = |why: String| {
        Ok(["isola-wasm", "runc", "isola-container"]
            .iter()
            .map(|t| BenchResult { benchmark: "pod-start".into(), target: t.to_string(), error: Some(format!("skipped: {why}")), ..Default::default() })
            .collect())
    };
    let bench = std::env::current_exe()?.with_file_name("isola-cri-bench");
    if !bench.exists() {
        return skipped(format!("{} not built (cargo build --release -p isola-e2e)", bench.display()));
    }
    let Some(isola) = lab.isola.clone() else {
        return skipped("no isola binary (--isola)".into());
    };
    if crate::compile::which("containerd").is_none() {
        return skipped("containerd not installed (apt-get install containerd containernetworking-plugins)".into());
    }
    let json = lab.work.join("e2e-bench.json");
    let pb = Phase::new(1, "e2e (CRI pod start)");
    let out = std::process::Command::new(&bench)
        .arg("--isola")
        .arg(&isola)
        .args(["--runs", &opts.runs.max(1).to_string()])
        .args(["--pods", if opts.smoke { "10" } else { "50" }, "--json"])
        .arg(&json)
        .output()?;
    drop(pb);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Ok(vec![BenchResult {
            benchmark: "pod-start".into(),
            target: "isola-wasm".into(),
            error: Some(format!("isola-cri-bench failed: {}", err.lines().last().unwrap_or("no output"))),
            ..Default::default()
        }]);
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json)?)?;
    Ok(serde_json::from_value(report["results"].clone())?)
}
