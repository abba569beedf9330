//! Compiling an untrusted module is bounded by the node and the pod: a module over the size
//! limit, a compilation over its memory bound (the node's, lowered to the container's memory
//! limit) or its time bound is refused with one clear error and nothing left behind; the module
//! cache keeps to its size bound by evicting the least recently used artifact. Under
//! `compiler = "tiered"` a first start runs Winch code at once and a detached, bounded,
//! idle-priority process fills the cache with Cranelift code that later starts load.

mod common;

use std::path::Path;

use common::*;

fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb128(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// A valid command module of `functions` small functions (each a chain of `adds` additions),
/// plus an empty `_start`: cheap to generate, costly to compile, as a hostile tenant's would be.
fn many_functions(functions: u32, adds: u32) -> Vec<u8> {
    module_with_seed(functions, adds, 7)
}

/// As [`many_functions`]; `seed` (0..64) changes the bytes, not the size of the compiled code.
fn module_with_seed(functions: u32, adds: u32, seed: u8) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    // Types: 0 = [] -> [i32], 1 = [] -> [].
    section(1, &[2, 0x60, 0, 1, 0x7f, 0x60, 0, 0], &mut m);
    let mut funcs = Vec::new();
    leb128(&mut funcs, u64::from(functions) + 1);
    for _ in 0..functions {
        funcs.push(0);
    }
    funcs.push(1);
    section(3, &funcs, &mut m);
    let mut exports = vec![1, 6];
    exports.extend_from_slice(b"_start");
    exports.push(0);
    leb128(&mut exports, u64::from(functions));
    section(7, &exports, &mut m);
    let mut body = vec![0, 0x41, seed & 0x3f]; // no locals; i32.const seed
    for _ in 0..adds {
        body.extend_from_slice(&[0x41, 0x03, 0x6a]); // i32.const 3; i32.add
    }
    body.push(0x0b);
    let mut code = Vec::new();
    leb128(&mut code, u64::from(functions) + 1);
    for _ in 0..functions {
        leb128(&mut code, body.len() as u64);
        code.extend_from_slice(&body);
    }
    code.extend_from_slice(&[2, 0, 0x0b]);
    section(10, &code, &mut m);
    m
}

/// A node policy with a private module cache and `extra` lines in its `[wasm]` table; the
/// compiler is Cranelift unless `extra` names one (the bounds are the same for every compiler,
/// and a single tier keeps the cache's contents exact).
fn policy(w: &World, name: &str, extra: &str) -> std::path::PathBuf {
    let path = w.scratch.join(format!("{name}.toml"));
    let compiler = if extra.contains("compiler") { "" } else { "compiler = \"cranelift\"\n" };
    std::fs::write(&path, format!("[wasm]\nmodule-cache = \"{}\"\n{compiler}{extra}", w.scratch.join("cache").display())).unwrap();
    path
}

fn bundle_with_module(w: &World, name: &str, module: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> std::path::PathBuf {
    let file = w.scratch.join(format!("{name}.wasm"));
    std::fs::write(&file, module).unwrap();
    w.wasm_bundle(name, &file, &[], edit)
}

fn run_with(w: &World, policy: &Path, bundle: &Path, id: &str) -> std::process::Output {
    w.run(&["--config", policy.to_str().unwrap(), "run", "--bundle", bundle.to_str().unwrap(), id])
}

/// Nothing of a refused compile is left in the cache: no artifact, no temporary file.
fn assert_cache_holds_no_artifact(w: &World) {
    let entries: Vec<String> = std::fs::read_dir(w.scratch.join("cache"))
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(!entries.iter().any(|n| n.ends_with(".cwasm") || n.ends_with(".tmp")), "{entries:?}");
}

fn refused_with_one_line(out: &std::process::Output, id: &str, words: &[&str]) {
    assert_ne!(out.status.code(), Some(0));
    let err = stderr_of(out);
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with(&format!("isola: container {id}: ")), "{err}");
    for word in words {
        assert!(err.contains(word), "{word:?} missing from: {err}");
    }
}

#[test]
fn a_module_over_the_size_limit_is_refused_before_it_is_compiled() {
    let w = World::new("compile-size");
    let module = many_functions(10, 1);
    let b = bundle_with_module(&w, "b", &module, |_| {});
    let small = policy(&w, "small", &format!("max-module-bytes = {}\n", module.len() - 1));
    let id = w.id("sz");
    let out = run_with(&w, &small, &b, &id);
    refused_with_one_line(&out, &id, &["larger than the limit", "wasm.max-module-bytes"]);
    assert_cache_holds_no_artifact(&w);
    w.assert_no_leftovers(&id);
    // Control: at exactly the limit it runs.
    let exact = policy(&w, "exact", &format!("max-module-bytes = {}\n", module.len()));
    let out = run_with(&w, &exact, &b, &w.id("sz"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn a_compile_over_its_memory_bound_is_refused_and_the_pod_limit_lowers_the_bound() {
    let w = World::new("compile-memory");
    let module = many_functions(20_000, 20);
    let b = bundle_with_module(&w, "b", &module, |_| {});
    let tight = policy(&w, "tight", "compile-memory = 16777216\n");
    let id = w.id("mem");
    let out = run_with(&w, &tight, &b, &id);
    refused_with_one_line(&out, &id, &["compilation refused", "compile memory bound of 16 MiB"]);
    assert_cache_holds_no_artifact(&w);
    w.assert_no_leftovers(&id);

    // The node allows 512 MiB, but the container's memory limit of 16 MiB lowers the bound.
    let node = policy(&w, "node", "");
    let limited = bundle_with_module(&w, "limited", &module, |c| {
        c["linux"]["resources"] = serde_json::json!({"memory": {"limit": 16777216}});
    });
    let id = w.id("pod");
    let out = run_with(&w, &node, &limited, &id);
    refused_with_one_line(&out, &id, &["compile memory bound of 16 MiB"]);
    assert_cache_holds_no_artifact(&w);
    w.assert_no_leftovers(&id);

    // Control: under the node's own bound the same module compiles, is cached and runs.
    let id = w.id("ok");
    let out = run_with(&w, &node, &b, &id);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    w.assert_no_leftovers(&id);
}

#[test]
fn a_compile_over_its_time_bound_is_stopped_and_refused() {
    let w = World::new("compile-time");
    let module = many_functions(20_000, 20);
    let b = bundle_with_module(&w, "b", &module, |_| {});
    let quick = policy(&w, "quick", "compile-timeout-ms = 100\n");
    let id = w.id("t");
    let started = std::time::Instant::now();
    let out = run_with(&w, &quick, &b, &id);
    let took = started.elapsed();
    refused_with_one_line(&out, &id, &["compile time bound of 100 ms", "wasm.compile-timeout-ms"]);
    assert!(took < std::time::Duration::from_secs(2), "stopped at the bound, took {took:?}");
    assert_cache_holds_no_artifact(&w);
    w.assert_no_leftovers(&id);
}

#[test]
fn the_module_cache_evicts_the_least_recently_used_artifact_past_its_bound() {
    let w = World::new("compile-evict");
    let artifacts = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(w.scratch.join("cache"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".cwasm"))
            .collect();
        v.sort();
        v
    };
    let a = bundle_with_module(&w, "a", &module_with_seed(50, 2, 1), |_| {});
    let b = bundle_with_module(&w, "b", &module_with_seed(50, 2, 2), |_| {});
    let roomy = policy(&w, "roomy", "");
    assert_eq!(run_with(&w, &roomy, &a, &w.id("a")).status.code(), Some(0));
    let only_a = artifacts();
    assert_eq!(run_with(&w, &roomy, &b, &w.id("b")).status.code(), Some(0));
    let both = artifacts();
    assert_eq!(both.len(), 2, "{both:?}");
    let artifact_b = both.iter().find(|n| !only_a.contains(n)).unwrap().clone();
    let size = |name: &str| std::fs::metadata(w.scratch.join("cache").join(name)).unwrap().len();
    // A bound that holds two artifacts of this size, not three.
    let bound = 2 * size(&both[0]).max(size(&both[1])) + 64;
    let tight = policy(&w, "tight", &format!("cache-max-bytes = {bound}\n"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    // a is used again (a cache hit), so b is now the least recently used.
    assert_eq!(run_with(&w, &tight, &a, &w.id("a")).status.code(), Some(0));
    let c = bundle_with_module(&w, "c", &module_with_seed(50, 2, 3), |_| {});
    assert_eq!(run_with(&w, &tight, &c, &w.id("c")).status.code(), Some(0));
    let left = artifacts();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&only_a[0]), "the recently used artifact stays: {left:?}");
    assert!(!left.contains(&artifact_b), "the least recently used one is evicted: {left:?}");
    // An evicted module still runs: it is compiled again.
    assert_eq!(run_with(&w, &tight, &b, &w.id("b")).status.code(), Some(0));
}

/// `run` under `policy` with the debug log in `scratch/<id>.log`; the output and the log.
fn run_logged(w: &World, policy: &Path, bundle: &Path, id: &str) -> (std::process::Output, String) {
    let log = w.scratch.join(format!("{id}.log"));
    let out = w.run(&["--config", policy.to_str().unwrap(), "--debug", "--log", log.to_str().unwrap(), "run", "--bundle", bundle.to_str().unwrap(), id]);
    (out, std::fs::read_to_string(&log).unwrap_or_default())
}

fn cache_files(w: &World, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(w.scratch.join("cache"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(suffix)).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The background compiles' record in the cache.
fn background_log(w: &World) -> String {
    std::fs::read_to_string(w.scratch.join("cache/background.log")).unwrap_or_default()
}

/// Waits (at most 120 s) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !done() {
        assert!(std::time::Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The pid of the background compile named in the cache's `.failed` marker (written when it
/// starts compiling), once there is one.
fn background_pid(w: &World) -> i32 {
    let mut pid = 0;
    wait_for("the background compile's marker", || {
        cache_files(w, ".failed").first().and_then(|m| std::fs::read_to_string(w.scratch.join("cache").join(m)).ok()).and_then(|t| {
            t.trim().strip_prefix("optimised compile started by pid ").and_then(|p| p.parse().ok())
        }).map(|p| pid = p).is_some()
    });
    pid
}

#[test]
fn a_tiered_first_start_runs_winch_code_and_later_starts_load_cranelift_code() {
    let w = World::new("tier-first");
    let tiered = policy(&w, "tiered", "compiler = \"tiered\"\n");
    let a = bundle_with_module(&w, "a", &module_with_seed(50, 2, 1), |_| {});
    let (out, log) = run_logged(&w, &tiered, &a, &w.id("1"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(log.contains(r#"cache=Compiled compiler="winch""#), "the first start compiles with Winch: {log}");
    assert!(log.contains("started the optimised compile in the background"), "{log}");
    wait_for("the background compile", || background_log(&w).contains("compiled "));
    assert_eq!(cache_files(&w, ".cwasm").len(), 2, "the Winch and the Cranelift artifact: {:?}", cache_files(&w, ".cwasm"));
    assert!(cache_files(&w, ".failed").is_empty() && cache_files(&w, ".tmp").is_empty(), "{:?}", cache_files(&w, ""));
    let (out, log) = run_logged(&w, &tiered, &a, &w.id("2"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(log.contains(r#"cache=Hit compiler="cranelift""#), "a later start loads the optimised code: {log}");
    assert!(!log.contains("started the optimised compile"), "{log}");
    w.assert_no_leftovers(&w.id("2"));
}

#[test]
fn concurrent_tiered_first_starts_compile_each_tier_once() {
    let w = World::new("tier-race");
    let tiered = policy(&w, "tiered", "compiler = \"tiered\"\n");
    let a = bundle_with_module(&w, "a", &module_with_seed(400, 20, 4), |_| {});
    let runs: Vec<_> = (0..4)
        .map(|i| {
            let id = w.id(&format!("r{i}"));
            let log = w.scratch.join(format!("{id}.log"));
            let child = w
                .isola()
                .args(["--config", tiered.to_str().unwrap(), "--debug", "--log", log.to_str().unwrap(), "run", "--bundle", a.to_str().unwrap(), &id])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (child, log)
        })
        .collect();
    let mut logs = String::new();
    for (child, log) in runs {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        logs.push_str(&std::fs::read_to_string(log).unwrap());
    }
    assert_eq!(logs.matches("compiled wasm module into cache").count(), 1, "one Winch compile for four starts: {logs}");
    wait_for("the background compile", || background_log(&w).contains("compiled "));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let record = background_log(&w);
    assert_eq!(record.matches("compiled ").count(), 1, "one Cranelift compile: {record}");
    assert_eq!(cache_files(&w, ".cwasm").len(), 2, "{:?}", cache_files(&w, ""));
}

#[test]
fn the_background_compile_is_detached_idle_and_bounded_and_a_killed_one_leaves_nothing() {
    let w = World::new("tier-kill");
    let module = many_functions(20_000, 20);
    let big = bundle_with_module(&w, "big", &module, |_| {});
    // The Winch code is in the cache (a `winch` node has the tiered node's baseline key).
    let winch = policy(&w, "winch", "compiler = \"winch\"\n");
    assert_eq!(run_with(&w, &winch, &big, &w.id("w")).status.code(), Some(0));
    let tiered = policy(&w, "tiered", "compiler = \"tiered\"\ncompile-memory = 1073741824\n");
    let (out, log) = run_logged(&w, &tiered, &big, &w.id("1"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(log.contains(r#"cache=Hit compiler="winch""#), "{log}");
    let pid = background_pid(&w);
    let proc_ = |f: &str| std::fs::read_to_string(format!("/proc/{pid}/{f}")).unwrap_or_default();
    let stat = proc_("stat");
    let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
    // stat fields after the command: [16] nice, [38] policy (5 = SCHED_IDLE); 0-based from state.
    assert_eq!(fields.get(16), Some(&"19"), "nice 19: {stat}");
    assert_eq!(fields.get(38), Some(&"5"), "SCHED_IDLE: {stat}");
    let limits = proc_("limits");
    for name in ["Max cpu time", "Max data size"] {
        let line = limits.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
        assert!(!line.contains("unlimited"), "{name} is bounded: {line}");
    }
    assert_eq!(proc_("environ"), "", "an empty environment");
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(), Path::new("/"));
    // Its own descriptors only: /dev/null for stdio, the job's memfd, a pidfd of the runtime,
    // the cache's lock and files; never a pipe of the caller, the log or the state dir.
    let cache = w.scratch.join("cache");
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.display().to_string())
        .collect();
    let own = |t: &String| t == "/dev/null" || t.starts_with("/memfd:isola-compile-job") || t == "anon_inode:[pidfd]" || Path::new(t).starts_with(&cache);
    assert!(fds.iter().all(own), "no descriptor of the runtime's caller: {fds:?}");
    assert!(proc_("cmdline").contains("__isola-background-compile"));
    // SAFETY: killing the background compile this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_for("the killed compile to go", || !Path::new(&format!("/proc/{pid}")).exists() || proc_("stat").contains(") Z "));
    assert!(cache_files(&w, ".tmp").is_empty(), "{:?}", cache_files(&w, ""));
    assert_eq!(cache_files(&w, ".cwasm").len(), 1, "only the Winch artifact: {:?}", cache_files(&w, ""));
    // The marker stays: a later start runs the Winch code and does not try again at once.
    let (out, log) = run_logged(&w, &tiered, &big, &w.id("2"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(log.contains(r#"cache=Hit compiler="winch""#) && log.contains("failed recently"), "{log}");
    // `isola precompile` (the operator's warm-up) fills the optimised code and clears the marker.
    let guest = w.scratch.join("big.wasm");
    let out = w.run(&["--config", tiered.to_str().unwrap(), "precompile", guest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(cache_files(&w, ".failed").is_empty(), "{:?}", cache_files(&w, ""));
    let (_, log) = run_logged(&w, &tiered, &big, &w.id("3"));
    assert!(log.contains(r#"cache=Hit compiler="cranelift""#), "{log}");
}

#[test]
fn a_background_compile_over_its_time_bound_is_stopped() {
    let w = World::new("tier-bound");
    let big = bundle_with_module(&w, "big", &many_functions(20_000, 20), |_| {});
    let winch = policy(&w, "winch", "compiler = \"winch\"\n");
    assert_eq!(run_with(&w, &winch, &big, &w.id("w")).status.code(), Some(0));
    let tiered = policy(&w, "tiered", "compiler = \"tiered\"\ncompile-timeout-ms = 200\ncompile-memory = 1073741824\n");
    let (out, _) = run_logged(&w, &tiered, &big, &w.id("1"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let pid = background_pid(&w);
    wait_for("the compile to stop at its bound", || {
        !Path::new(&format!("/proc/{pid}")).exists() || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
    });
    assert_eq!(cache_files(&w, ".cwasm").len(), 1, "no optimised artifact: {:?}", cache_files(&w, ""));
    assert!(cache_files(&w, ".tmp").is_empty() && !background_log(&w).contains("compiled "), "{:?}", cache_files(&w, ""));
}

#[test]
fn a_corrupted_optimised_artifact_is_never_loaded() {
    let w = World::new("tier-corrupt");
    let tiered = policy(&w, "tiered", "compiler = \"tiered\"\n");
    let a = bundle_with_module(&w, "a", &module_with_seed(50, 2, 5), |_| {});
    assert_eq!(run_with(&w, &tiered, &a, &w.id("1")).status.code(), Some(0));
    wait_for("the background compile", || background_log(&w).contains("compiled "));
    // The optimised artifact is the one written last.
    let mut artifacts: Vec<_> = cache_files(&w, ".cwasm").into_iter().map(|n| w.scratch.join("cache").join(n)).collect();
    artifacts.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).unwrap());
    let artifact = artifacts.pop().unwrap();
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&artifact, &bytes).unwrap();
    let (out, log) = run_logged(&w, &tiered, &a, &w.id("2"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(log.contains("discarding cached wasm artifact") && log.contains("seal"), "{log}");
    assert!(log.contains(r#"compiler="winch""#), "the start ran baseline code instead: {log}");
    wait_for("the second background compile", || background_log(&w).matches("compiled ").count() == 2);
}
