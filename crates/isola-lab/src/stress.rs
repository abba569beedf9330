//! `isola-lab stress`: create / start / wait / delete loops through each runtime's command line
//! (the verbs containerd's shim sends), P workers in parallel per target, the targets interleaved
//! in rounds; leak accounting before and after each target's round; then the lifecycle races
//! (two `create`s on one id, `delete` against `start`, `kill` against `delete`). It must never
//! leave a container behind: every failed lifecycle or race ends with `delete --force` and a
//! killed, reaped init, and what was left before that cleanup is reported as a leak.
//!
//! Targets are interleaved in rounds (A B C D, A B C D, ...) rather than run one after another,
//! for the reason the bench suites interleave: this is a shared 2-core machine, and drift (a build
//! starting next door) then lands on every target alike. Leaks stay attributable: each target's
//! round is bracketed by its own pair of snapshots, taken with nothing else running.
//!
//! Example: `isola-lab stress --targets isola-container,isola-wasm,runc,crun --lifecycles 500 --parallel 8`

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::bundle::Profile;
use crate::compile::Artifact;
use crate::lab::Lab;
use crate::leak::{self, Scope, Snapshot};
use crate::progress::Phase;
use crate::schema::{Counter, RaceResult, StressReport, StressResult};
use crate::stats::{percentile, round3};
use crate::target::{Job, Kind, Target};

/// The races, in the order they run.
pub const RACES: [&str; 3] = ["create-create", "delete-start", "kill-delete"];

/// What the workload prints (crates/isola-lab/fixtures/hello.c).
const HELLO_LINE: &str = "hello from isola-lab";
/// Bound on any one runtime invocation, and on a workload that should end at once.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Errors kept per row (the count is always complete).
const KEEP_ERRORS: usize = 5;

pub struct Options {
    /// Measured lifecycles per target.
    pub lifecycles: usize,
    /// Workers per target, each looping create/start/wait/delete.
    pub parallel: usize,
    /// Rounds the targets are interleaved in.
    pub rounds: usize,
    /// Runs of each race per target (0: no races).
    pub race_runs: usize,
}

/// The default targets: isola both ways, and the runc and crun it is compared with.
pub const DEFAULT_TARGETS: &str = "isola-container,isola-wasm,runc,crun,youki";

/// How one runtime invocation ended.
#[derive(Debug, Clone)]
struct Outcome {
    /// Exit code; 128+n for signal n; -1 when it timed out; -2 when it could not be started.
    code: i32,
    stderr: String,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.code == 0
    }
    /// Rust's panic exit code, or a panic message.
    fn panicked(&self) -> bool {
        self.code == 101 || self.stderr.contains("panicked")
    }
    fn last_line(&self) -> String {
        self.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().chars().take(200).collect()
    }
    fn describe(&self) -> String {
        match self.code {
            0 => "ok".into(),
            -1 => format!("timed out after {} s", STEP_TIMEOUT.as_secs()),
            c => format!("exit {c}: {}", self.last_line()),
        }
    }
}

/// Waits up to `timeout` for process `pid` to end (any process, child or not) through a pidfd.
/// A pid that no longer exists has ended. Returns false on timeout.
fn wait_exit(pid: i32, timeout: Duration) -> bool {
    // SAFETY: pidfd_open takes a pid and flags; it returns a new fd (O_CLOEXEC) or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return true;
    }
    let deadline = Instant::now() + timeout;
    let ended = loop {
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let left = deadline.saturating_duration_since(Instant::now()).as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, left) };
        if rc > 0 {
            break true;
        }
        if rc == 0 {
            break false;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break true;
        }
    };
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
    ended
}

/// Reaps `pid` if it is the lab's ended child; returns its exit code (128+n for signal n).
fn reap(pid: i32) -> Option<i32> {
    let mut status = 0;
    // SAFETY: waitpid on one pid with WNOHANG and a valid status pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if rc != pid {
        return None;
    }
    if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Some(128 + libc::WTERMSIG(status))
    } else {
        None
    }
}

/// Reaps every ended child the lab inherited as subreaper (called between rounds, when no
/// runtime command of the lab is running); returns how many.
fn reap_strays() -> usize {
    let mut n = 0;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with WNOHANG and a valid status pointer.
        if unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } <= 0 {
            return n;
        }
        n += 1;
    }
}

/// A runtime invocation in flight; its stderr goes to a file (a detached container inherits the
/// runtime's stdio, so a pipe would not reach EOF while the container lives).
struct Spawned {
    child: Option<Child>,
    err_file: PathBuf,
    spawn_error: Option<String>,
}

fn spawn(mut cmd: Command, err_file: &Path, stdout: Stdio) -> Spawned {
    let spawned = File::create(err_file).map_err(|e| e.to_string()).and_then(|err| {
        cmd.stdin(Stdio::null()).stdout(stdout).stderr(err).spawn().map_err(|e| e.to_string())
    });
    match spawned {
        Ok(c) => Spawned { child: Some(c), err_file: err_file.to_path_buf(), spawn_error: None },
        Err(e) => Spawned { child: None, err_file: err_file.to_path_buf(), spawn_error: Some(e) },
    }
}

impl Spawned {
    fn finish(self) -> Outcome {
        let Some(mut child) = self.child else {
            return Outcome { code: -2, stderr: format!("could not start: {}", self.spawn_error.unwrap_or_default()) };
        };
        let code = if wait_exit(child.id() as i32, STEP_TIMEOUT) {
            match child.wait() {
                Ok(st) => {
                    use std::os::unix::process::ExitStatusExt;
                    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
                }
                Err(_) => -2,
            }
        } else {
            let _ = child.kill();
            let _ = child.wait();
            -1
        };
        Outcome { code, stderr: std::fs::read_to_string(&self.err_file).unwrap_or_default() }
    }
}

fn invoke(cmd: Command, err_file: &Path, stdout: Stdio) -> Outcome {
    spawn(cmd, err_file, stdout).finish()
}

/// One target's runtime, its isola config, and its bundles (one per worker, built once).
struct Rig {
    target: Target,
    config: Option<PathBuf>,
    hello: Vec<PathBuf>,
    idle: PathBuf,
    dir: PathBuf,
    marker: String,
}

fn job<'a>(art: &'a Artifact, work: &'a Path) -> Job<'a> {
    Job {
        native: art.native.as_ref().ok().map(|p| p.as_path()),
        wasm: art.wasm.as_ref().ok().map(|p| p.as_path()),
        args: &[],
        profile: Profile::Plain,
        timeout: STEP_TIMEOUT,
        runtime_env: &[],
        work_dir: work,
        isola_config: None,
        shadow_secret: "stress",
        wasm_timeout_ms: 0,
        precompiled: false,
        engine_cache: None,
        safety_cgroup: false,
    }
}

impl Rig {
    fn new(target: &Target, dir: &Path, cache: &Path, hello: &Artifact, idle: &Artifact, parallel: usize, marker: &str) -> Result<Rig> {
        let dir = dir.join(target.name());
        std::fs::create_dir_all(&dir)?;
        let config = if target.kind == Kind::IsolaWasm { Some(crate::bench::write_isola_config(&dir, cache)?) } else { None };
        let mut bundles = Vec::new();
        for w in 0..parallel {
            let wd = dir.join(format!("w{w}"));
            std::fs::create_dir_all(&wd)?;
            bundles.push(target.bundle(&job(hello, &wd)).with_context(|| format!("{}: bundle", target.name()))?);
        }
        let idle_dir = dir.join("idle");
        std::fs::create_dir_all(&idle_dir)?;
        let idle = target.bundle(&job(idle, &idle_dir)).with_context(|| format!("{}: idle bundle", target.name()))?;
        std::fs::create_dir_all(dir.join("race"))?;
        Ok(Rig { target: target.clone(), config, hello: bundles, idle, dir, marker: marker.to_string() })
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.target.runtime_cmd(self.config.as_deref());
        c.args(args).current_dir(&self.dir);
        c
    }

    fn id(&self, what: &str, n: usize) -> String {
        format!("{}{}-{what}-{n}", self.marker, self.target.name())
    }

    /// `create --bundle B --pid-file P ID`, the container's stdout into `out`.
    fn create(&self, bundle: &Path, files: &Path, id: &str) -> Spawned {
        let out = File::create(files.join("out")).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
        let _ = std::fs::remove_file(files.join("pid"));
        let (b, p) = (bundle.display().to_string(), files.join("pid").display().to_string());
        spawn(self.cmd(&["create", "--bundle", &b, "--pid-file", &p, id]), &files.join("create.err"), out)
    }

    fn verb(&self, args: &[&str], err: &Path) -> Spawned {
        spawn(self.cmd(args), err, Stdio::null())
    }

    fn state(&self, id: &str) -> Option<serde_json::Value> {
        let out = self.cmd(&["state", id]).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
        out.status.success().then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
    }

    /// Best effort, whatever state the container is in: `delete --force`, then the init killed
    /// (when it is still a process of this run) and reaped. Returns what was wrong afterwards.
    fn cleanup(&self, id: &str, pids: &[i32]) -> Vec<String> {
        let mut wrong = Vec::new();
        let d = invoke(self.cmd(&["delete", "--force", id]), &self.dir.join("cleanup.err"), Stdio::null());
        if d.panicked() {
            wrong.push(format!("{id}: delete --force panicked: {}", d.last_line()));
        }
        if self.state(id).is_some() {
            wrong.push(format!("{id}: still listed by `state` after delete --force ({})", d.describe()));
        }
        for &pid in pids {
            if pid <= 0 {
                continue;
            }
            if !wait_exit(pid, Duration::from_secs(2)) {
                if self.owns(pid) {
                    wrong.push(format!("{id}: init pid {pid} still running after delete --force"));
                    // SAFETY: a process of this run (our child or rooted in our work dir).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    wait_exit(pid, Duration::from_secs(5));
                }
            }
            reap(pid);
        }
        wrong
    }

    /// The process is the lab's child, or runs rooted in this run's work dir.
    fn owns(&self, pid: i32) -> bool {
        let child = leak::stat(pid as u32).is_some_and(|(_, _, ppid)| ppid == std::process::id());
        let root = std::fs::read_link(format!("/proc/{pid}/root")).map(|r| r.starts_with(&self.dir)).unwrap_or(false);
        child || root
    }
}

fn read_pid(files: &Path) -> Option<i32> {
    std::fs::read_to_string(files.join("pid")).ok()?.trim().parse().ok()
}

/// One create/start/wait/delete on worker `w`'s bundle; returns its wall time in ms.
fn lifecycle(rig: &Rig, w: usize, id: &str) -> std::result::Result<f64, String> {
    let files = rig.dir.join(format!("w{w}"));
    let t0 = Instant::now();
    let mut pid = -1;
    let steps = (|| {
        let c = rig.create(&rig.hello[w], &files, id).finish();
        check(&c, "create")?;
        pid = read_pid(&files).ok_or_else(|| "create: no pid file".to_string())?;
        check(&rig.verb(&["start", id], &files.join("start.err")).finish(), "start")?;
        if !wait_exit(pid, STEP_TIMEOUT) {
            return Err(format!("wait: the workload still runs after {} s", STEP_TIMEOUT.as_secs()));
        }
        let code = reap(pid);
        check(&rig.verb(&["delete", id], &files.join("delete.err")).finish(), "delete")?;
        Ok(code)
    })();
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    let verdict = steps.and_then(|code| {
        if let Some(c) = code.filter(|c| *c != 0) {
            return Err(format!("the workload exited {c}"));
        }
        let out = std::fs::read_to_string(files.join("out")).unwrap_or_default();
        if !out.contains(HELLO_LINE) {
            return Err(format!("the workload printed nothing (stdout {:?})", out.chars().take(80).collect::<String>()));
        }
        Ok(ms)
    });
    verdict.map_err(|e| {
        let mut msg = format!("{id}: {e}");
        for w in rig.cleanup(id, &[pid]) {
            msg.push_str("; ");
            msg.push_str(&w);
        }
        msg
    })
}

fn check(o: &Outcome, step: &str) -> std::result::Result<(), String> {
    if o.panicked() {
        return Err(format!("{step} PANICKED: {}", o.describe()));
    }
    if !o.ok() {
        return Err(format!("{step}: {}", o.describe()));
    }
    Ok(())
}

/// Lifecycles `0..n` on `parallel` workers; returns (latencies ms, errors, wall s).
fn measure(rig: &Rig, n: usize, seq: &AtomicUsize, pb: &Phase) -> (Vec<f64>, Vec<String>, f64) {
    let next = AtomicUsize::new(0);
    let lat = Mutex::new(Vec::with_capacity(n));
    let errs = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..rig.hello.len() {
            let (next, lat, errs) = (&next, &lat, &errs);
            s.spawn(move || loop {
                if next.fetch_add(1, Ordering::SeqCst) >= n {
                    return;
                }
                let id = rig.id("lc", seq.fetch_add(1, Ordering::SeqCst));
                match lifecycle(rig, w, &id) {
                    Ok(ms) => lat.lock().map(|mut v| v.push(ms)).unwrap_or(()),
                    Err(e) => errs.lock().map(|mut v| v.push(e)).unwrap_or(()),
                }
                pb.inc(1);
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    (lat.into_inner().unwrap_or_default(), errs.into_inner().unwrap_or_default(), wall)
}

/// Takes the "after" snapshot; when it shows leaks, waits for asynchronous teardown to settle
/// (up to 2 s) before believing them. Then reaps what the lab inherited as subreaper.
fn settle(scope: &Scope, before: &Snapshot) -> (Snapshot, Vec<String>) {
    let mut after = Snapshot::take(scope);
    let mut l = leak::leaks(before, &after);
    for _ in 0..20 {
        if l.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        after = Snapshot::take(scope);
        l = leak::leaks(before, &after);
    }
    reap_strays();
    (after, l)
}

fn merge_counters(acc: &mut Vec<Counter>, round: Vec<Counter>) {
    for c in round {
        match acc.iter_mut().find(|a| a.name == c.name) {
            Some(a) => a.after = (a.after as i64 + c.after as i64 - c.before as i64).max(0) as u64,
            None => acc.push(c),
        }
    }
}

fn push_unique(into: &mut Vec<String>, items: Vec<String>) {
    for i in items {
        if !into.contains(&i) {
            into.push(i);
        }
    }
}

/// Runs the stress table and the races; the report names every failure and leak.
pub fn run(lab: &Lab, kinds: &[Kind], opts: &Options) -> Result<StressReport> {
    // SAFETY: prctl with integer arguments. Inits whose runtime exited are re-parented to the lab
    // (as to containerd's shim), so it can wait for the workload and must reap it.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let builder = lab.builder()?;
    let hello = builder.build_single(&crate::bench::hello_source())?;
    let idle = builder.build_single(&crate::bench::idle_source())?;
    let targets = lab.targets(kinds);
    let dir = lab.run_dir("stress")?;
    let cache = dir.join("module-cache");
    let marker = format!("lab-stress-{}-", std::process::id());
    let parallel = opts.parallel.max(1);
    let rounds = opts.rounds.clamp(1, opts.lifecycles.max(1));
    let scope = Scope {
        marker: marker.clone(),
        work: dir.clone(),
        state_roots: targets.iter().map(|t| t.root().to_path_buf()).collect(),
        cache_dirs: vec![cache.clone()],
    };
    let mut results: Vec<StressResult> = Vec::new();
    let mut rigs: Vec<Option<Rig>> = Vec::new();
    let mut latencies: Vec<Vec<f64>> = Vec::new();
    let seq = AtomicUsize::new(0);
    for t in &targets {
        let mut r = StressResult { target: t.name().into(), build: if t.kind.is_wasm() { "wasm" } else { "native" }.into(), ..Default::default() };
        let rig = if let Some(why) = &t.missing {
            r.error = Some(format!("skipped: {why}"));
            None
        } else if !t.kind.is_oci() {
            r.error = Some("skipped: not an OCI runtime (no create/start/delete)".into());
            None
        } else {
            match Rig::new(t, &dir, &cache, &hello, &idle, parallel, &marker) {
                Ok(rig) => Some(rig),
                Err(e) => {
                    r.error = Some(format!("{e:#}"));
                    None
                }
            }
        };
        // Warm-up, one lifecycle per worker: the module cache is filled and each runtime's root and
        // parent cgroups exist before the first snapshot, so neither is counted as a leak.
        if let Some(rig) = &rig {
            let pb = Phase::new(parallel as u64, &format!("warm-up {}", t.name()));
            let (_, errs, _) = measure(rig, parallel, &seq, &pb);
            drop(pb);
            r.failures += errs.len();
            push_unique(&mut r.errors, errs.into_iter().take(KEEP_ERRORS).map(|e| format!("warm-up: {e}")).collect());
        }
        reap_strays();
        results.push(r);
        rigs.push(rig);
        latencies.push(Vec::new());
    }
    let runnable = rigs.iter().filter(|r| r.is_some()).count();
    let pb = Phase::new((opts.lifecycles * runnable) as u64, "stress");
    for round in 0..rounds {
        let n = opts.lifecycles * (round + 1) / rounds - opts.lifecycles * round / rounds;
        for (i, rig) in rigs.iter().enumerate() {
            let Some(rig) = rig else { continue };
            pb.set_message(format!("{} (round {}/{rounds})", rig.target.name(), round + 1));
            let before = Snapshot::take(&scope);
            let (lat, errs, wall) = measure(rig, n, &seq, &pb);
            let (after, leaks) = settle(&scope, &before);
            let r = &mut results[i];
            r.lifecycles += n;
            r.ok += lat.len();
            r.failures += errs.len();
            r.wall_s += wall;
            latencies[i].extend(lat);
            let room = KEEP_ERRORS.saturating_sub(r.errors.len());
            push_unique(&mut r.errors, errs.into_iter().take(room).collect());
            push_unique(&mut r.leaks, leaks);
            merge_counters(&mut r.accounting, leak::counters(&before, &after));
        }
    }
    drop(pb);
    for (r, lat) in results.iter_mut().zip(&latencies) {
        if r.error.is_none() && r.wall_s > 0.0 {
            r.wall_s = round3(r.wall_s);
            r.lifecycles_per_s = Some(round3(r.ok as f64 / r.wall_s));
            if !lat.is_empty() {
                r.p50_ms = Some(round3(percentile(lat, 50.0)));
                r.p95_ms = Some(round3(percentile(lat, 95.0)));
            }
        }
    }
    let runc = results.iter().find(|r| r.target == "runc").and_then(|r| r.lifecycles_per_s).filter(|v| *v > 0.0);
    for r in &mut results {
        if let (Some(v), Some(base)) = (r.lifecycles_per_s, runc) {
            r.ratio_to_runc = Some(round3(v / base));
        }
    }
    let mut races = Vec::new();
    if opts.race_runs > 0 {
        let pb = Phase::new((opts.race_runs * RACES.len() * runnable) as u64, "races");
        for rig in rigs.iter().flatten() {
            for race in RACES {
                pb.set_message(format!("{} {race}", rig.target.name()));
                races.push(run_race(rig, race, opts.race_runs, &scope, &pb));
            }
        }
        drop(pb);
    }
    let report = StressReport {
        machine: crate::machine::describe(&targets),
        workload: "hello (crates/isola-lab/fixtures/hello.c: prints one line, exits 0): the static native build in every container target, the wasm32-wasi build in isola-wasm".into(),
        lifecycles: opts.lifecycles,
        parallel,
        rounds,
        results,
        races,
    };
    remove_leftover_cgroups(&scope);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(report)
}

/// After the report has named them: kills what is left in the cgroup dirs named after this run's
/// container ids (runc's create race leaves some) and removes them, deepest first.
fn remove_leftover_cgroups(scope: &Scope) {
    let mut dirs: Vec<String> = Snapshot::take(scope).cgroups.into_iter().collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
    for d in dirs {
        for _ in 0..20 {
            let procs = std::fs::read_to_string(Path::new(&d).join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: a process in a cgroup named after one of this run's container ids.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            if std::fs::remove_dir(&d).is_ok() || !Path::new(&d).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    reap_strays();
}

/// One race, `runs` times, bracketed by leak snapshots.
fn run_race(rig: &Rig, race: &str, runs: usize, scope: &Scope, pb: &Phase) -> RaceResult {
    let mut r = RaceResult { target: rig.target.name().into(), race: race.into(), runs, ..Default::default() };
    let before = Snapshot::take(scope);
    for i in 0..runs {
        let (outcome, problems) = match race {
            "create-create" => race_create(rig, i),
            "delete-start" => race_delete_start(rig, i),
            _ => race_kill_delete(rig, i),
        };
        *r.outcomes.entry(outcome).or_default() += 1;
        if !problems.is_empty() {
            r.failures += 1;
            if r.errors.len() < KEEP_ERRORS {
                r.errors.push(problems.join("; "));
            }
        }
        pb.inc(1);
    }
    r.leaks = settle(scope, &before).1;
    r
}

fn ok_err(o: &Outcome) -> &'static str {
    if o.ok() {
        "ok"
    } else {
        "error"
    }
}

fn panics(id: &str, named: &[(&str, &Outcome)]) -> Vec<String> {
    named.iter().filter(|(_, o)| o.panicked()).map(|(n, o)| format!("{id}: {n} PANICKED ({})", o.describe())).collect()
}

/// Two processes race `create` on one id (same bundle): exactly one wins, the other fails with
/// an error that says why, and the winner's container then starts and runs its workload.
fn race_create(rig: &Rig, i: usize) -> (String, Vec<String>) {
    let id = rig.id("cc", i);
    let id = id.as_str();
    let (fa, fb) = (rig.dir.join("race/a"), rig.dir.join("race/b"));
    let _ = std::fs::create_dir_all(&fa);
    let _ = std::fs::create_dir_all(&fb);
    let a = rig.create(&rig.hello[0], &fa, id);
    let b = rig.create(&rig.hello[0], &fb, id);
    let (oa, ob) = (a.finish(), b.finish());
    let mut problems = panics(id, &[("create A", &oa), ("create B", &ob)]);
    let pids: Vec<i32> = [read_pid(&fa), read_pid(&fb)].into_iter().flatten().collect();
    let key = match (oa.ok(), ob.ok()) {
        (true, true) => {
            problems.push(format!("{id}: both creates succeeded"));
            "two winners"
        }
        (false, false) => {
            problems.push(format!("{id}: neither create succeeded (A: {}; B: {})", oa.describe(), ob.describe()));
            "no winner"
        }
        (a_won, _) => {
            let (win_files, loser) = if a_won { (&fa, &ob) } else { (&fb, &oa) };
            let said = loser.stderr.to_lowercase();
            if loser.code == -1 || !(said.contains(&id.to_lowercase()) || said.contains("exist")) {
                problems.push(format!("{id}: the losing create gave no clear error ({})", loser.describe()));
            }
            problems.extend(winner_runs(rig, id, win_files));
            "one winner"
        }
    };
    problems.extend(rig.cleanup(id, &pids));
    (key.into(), problems)
}

/// The winner of a create race is intact: `state` says created with its pid, `start` runs the
/// workload to exit 0 with its output, `delete` succeeds.
fn winner_runs(rig: &Rig, id: &str, files: &Path) -> Vec<String> {
    let mut p = Vec::new();
    let pid = read_pid(files);
    match rig.state(id) {
        Some(s) if s["status"] == "created" && s["pid"].as_i64().map(|x| x as i32) == pid => {}
        Some(s) => p.push(format!("{id}: the winner's state after the race is {} (pid {:?}, pid file {pid:?})", s["status"], s["pid"].as_i64())),
        None => p.push(format!("{id}: the winner's container is gone after the race")),
    }
    let Some(pid) = pid else {
        p.push(format!("{id}: the winner wrote no pid file"));
        return p;
    };
    let s = rig.verb(&["start", id], &files.join("start.err")).finish();
    if !s.ok() {
        p.push(format!("{id}: start of the winner: {}", s.describe()));
        return p;
    }
    if !wait_exit(pid, STEP_TIMEOUT) {
        p.push(format!("{id}: the winner's workload still runs"));
        return p;
    }
    if let Some(c) = reap(pid).filter(|c| *c != 0) {
        p.push(format!("{id}: the winner's workload exited {c}"));
    }
    let out = std::fs::read_to_string(files.join("out")).unwrap_or_default();
    if !out.contains(HELLO_LINE) {
        p.push(format!("{id}: the winner's workload printed nothing"));
    }
    let d = rig.verb(&["delete", id], &files.join("delete.err")).finish();
    if !d.ok() {
        p.push(format!("{id}: delete of the winner: {}", d.describe()));
    }
    p
}

/// `delete` (plain on even runs, `--force` on odd ones) races `start` on a created container:
/// either may win, neither may panic, and nothing may be left.
fn race_delete_start(rig: &Rig, i: usize) -> (String, Vec<String>) {
    let id = rig.id("ds", i);
    let id = id.as_str();
    let files = rig.dir.join("race/ds");
    let _ = std::fs::create_dir_all(&files);
    let c = rig.create(&rig.hello[0], &files, id).finish();
    let pid = read_pid(&files).unwrap_or(-1);
    if !c.ok() {
        let mut p = vec![format!("{id}: setup create: {}", c.describe())];
        p.extend(rig.cleanup(id, &[pid]));
        return ("setup failed".into(), p);
    }
    let force = i % 2 == 1;
    let delete: Vec<&str> = if force { vec!["delete", "--force", id] } else { vec!["delete", id] };
    let s = rig.verb(&["start", id], &files.join("start.err"));
    let d = rig.verb(&delete, &files.join("delete.err"));
    let (os, od) = (s.finish(), d.finish());
    let mut problems = panics(id, &[("start", &os), ("delete", &od)]);
    problems.extend(rig.cleanup(id, &[pid]));
    (format!("start {} / delete{} {}", ok_err(&os), if force { " --force" } else { "" }, ok_err(&od)), problems)
}

/// `kill KILL` races `delete` (plain on even runs, `--force` on odd ones) on a running container.
fn race_kill_delete(rig: &Rig, i: usize) -> (String, Vec<String>) {
    let id = rig.id("kd", i);
    let id = id.as_str();
    let files = rig.dir.join("race/kd");
    let _ = std::fs::create_dir_all(&files);
    let c = rig.create(&rig.idle, &files, id).finish();
    let pid = read_pid(&files).unwrap_or(-1);
    let s = if c.ok() { rig.verb(&["start", id], &files.join("start.err")).finish() } else { c.clone() };
    if !c.ok() || !s.ok() {
        let mut p = vec![format!("{id}: setup create/start: {}", if c.ok() { s.describe() } else { c.describe() })];
        p.extend(rig.cleanup(id, &[pid]));
        return ("setup failed".into(), p);
    }
    let force = i % 2 == 1;
    let delete: Vec<&str> = if force { vec!["delete", "--force", id] } else { vec!["delete", id] };
    let k = rig.verb(&["kill", id, "KILL"], &files.join("kill.err"));
    let d = rig.verb(&delete, &files.join("delete.err"));
    let (ok, od) = (k.finish(), d.finish());
    let mut problems = panics(id, &[("kill", &ok), ("delete", &od)]);
    problems.extend(rig.cleanup(id, &[pid]));
    (format!("kill {} / delete{} {}", ok_err(&ok), if force { " --force" } else { "" }, ok_err(&od)), problems)
}

/// What fails a stress run: any failed lifecycle, any leak, any race that panicked, left
/// something behind or broke the create race's winner. Skipped targets do not fail it.
pub fn problems(r: &StressReport) -> Vec<String> {
    let mut out = Vec::new();
    for x in &r.results {
        if let Some(e) = x.error.as_ref().filter(|e| !e.starts_with("skipped")) {
            out.push(format!("stress {}: {e}", x.target));
        }
        if x.failures > 0 {
            out.push(format!("stress {}: {} lifecycle(s) failed, warm-up included ({} measured; first: {})", x.target, x.failures, x.lifecycles, x.errors.first().map(String::as_str).unwrap_or("?")));
        }
        if !x.leaks.is_empty() {
            out.push(format!("stress {} leaked: {}", x.target, x.leaks.join(", ")));
        }
    }
    for x in &r.races {
        if x.failures > 0 {
            out.push(format!("race {} on {}: {} of {} runs failed (first: {})", x.race, x.target, x.failures, x.runs, x.errors.first().map(String::as_str).unwrap_or("?")));
        }
        if !x.leaks.is_empty() {
            out.push(format!("race {} on {} leaked: {}", x.race, x.target, x.leaks.join(", ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_told_by_exit_101_or_the_message() {
        let o = |code: i32, stderr: &str| Outcome { code, stderr: stderr.into() };
        assert!(o(101, "").panicked());
        assert!(o(1, "thread 'main' panicked at src/x.rs:1:1").panicked());
        assert!(!o(1, "isola: container x: delete: container is running").panicked());
        assert_eq!(o(1, "a\nlast line\n\n").last_line(), "last line");
        assert_eq!(o(-1, "").describe(), "timed out after 30 s");
    }

    #[test]
    fn wait_exit_sees_a_child_end_and_reap_gives_its_code() {
        let child = std::process::Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
        let pid = child.id() as i32;
        assert!(wait_exit(pid, Duration::from_secs(10)));
        assert_eq!(reap(pid), Some(7));
        std::mem::forget(child);
        let sleeper = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        assert!(!wait_exit(sleeper.id() as i32, Duration::from_millis(50)), "a running process has not ended");
        // SAFETY: our own child.
        unsafe { libc::kill(sleeper.id() as i32, libc::SIGKILL) };
        assert!(wait_exit(sleeper.id() as i32, Duration::from_secs(5)));
        assert_eq!(reap(sleeper.id() as i32), Some(128 + libc::SIGKILL));
        std::mem::forget(sleeper);
    }

    #[test]
    fn gate_names_failures_leaks_and_races() {
        let mut r = StressReport {
            machine: Default::default(),
            workload: String::new(),
            lifecycles: 10,
            parallel: 2,
            rounds: 1,
            results: vec![
                StressResult { target: "isola-wasm".into(), lifecycles: 10, ok: 10, ..Default::default() },
                StressResult { target: "youki".into(), error: Some("skipped: youki not found".into()), ..Default::default() },
            ],
            races: vec![RaceResult { target: "isola-wasm".into(), race: "create-create".into(), runs: 20, ..Default::default() }],
        };
        assert!(problems(&r).is_empty());
        r.results[0].leaks.push("cgroup dir /sys/fs/cgroup/memory/isola/lab-stress-1-x".into());
        r.races[0].failures = 1;
        r.races[0].errors.push("both creates succeeded".into());
        let p = problems(&r);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("leaked: cgroup dir") && p[1].contains("create-create"));
    }
}
