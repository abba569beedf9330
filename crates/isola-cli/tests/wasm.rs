//! Wasm containers through the `isola` binary: selection, what the guest sees, limits, exit
//! codes, the module cache and hostile modules. Guests are C built with clang for wasm32-wasi.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn wasm_guest_gets_args_env_and_its_exit_code_and_no_variable_it_was_not_given() {
    let w = World::new("wasm-hello");
    let id = w.id("wh");
    let b = w.wasm_bundle("b", &wasm_payload("wasm_probe"), &["hello", "a b", "c"], |c| {
        c["process"]["env"] = serde_json::json!(["GREETING=hi"]);
        c["process"]["cwd"] = "/app".into();
    });
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "hello argc=4 [a b] [c] GREETING=hi PWD=(null)\n");
    w.assert_no_leftovers(&id);
}

#[test]
fn wasm_guest_never_sees_the_runtime_environment() {
    let w = World::new("wasm-env");
    let b = w.wasm_bundle("b", &wasm_payload("wasm_probe"), &["hello"], |c| c["process"]["env"] = serde_json::json!([]));
    let policy = w.wasm_policy();
    let out = w
        .isola()
        .env("GREETING", "runtime-secret")
        .args(["--config", policy.to_str().unwrap(), "run", "--bundle", b.to_str().unwrap(), &w.id("we")])
        .output()
        .unwrap();
    assert!(stdout_of(&out).contains("GREETING=(null)"), "{}", stdout_of(&out));
}

#[test]
fn read_only_mount_is_readable_but_not_writable() {
    let w = World::new("wasm-ro");
    let data = w.scratch.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("f.txt"), "host data\n").unwrap();
    let mount = |c: &mut serde_json::Value| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/data", "type": "bind", "source": data.to_str().unwrap(), "options": ["rbind", "ro"]
        }));
    };
    let module = wasm_payload("wasm_probe");
    let b = w.wasm_bundle("r", &module, &["read", "/data/f.txt"], mount);
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("ro")]);
    assert_eq!(stdout_of(&out), "read: host data\n", "{}", stderr_of(&out));
    let b = w.wasm_bundle("w", &module, &["write", "/data/new.txt"], mount);
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("rw")]);
    assert!(stdout_of(&out).starts_with("refused"), "{}", stdout_of(&out));
    assert!(!data.join("new.txt").exists());
}

#[test]
fn files_outside_every_preopen_are_unreachable() {
    let w = World::new("wasm-escape");
    let canary = w.scratch.join("canary.txt");
    std::fs::write(&canary, "TOKEN-outside\n").unwrap();
    // Positive control: the same path is readable on the host.
    assert!(std::fs::read_to_string(&canary).unwrap().contains("TOKEN"));
    let module = wasm_payload("wasm_probe");
    let relative = format!("/app/../../../../..{}", canary.display());
    for path in [canary.to_str().unwrap(), relative.as_str(), "/proc/self/environ", "/proc/1/mem", "/sys/kernel/uevent_helper", "/dev/null"] {
        let b = w.wasm_bundle(&format!("e{}", w.id("x")), &module, &["read", path], |_| {});
        let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("esc")]);
        let text = stdout_of(&out);
        assert!(text.starts_with("unreachable"), "{path}: {text}");
        assert!(!text.contains("TOKEN"));
    }
}

#[test]
fn service_account_token_is_hidden_unless_exposed() {
    let w = World::new("wasm-sa");
    let sa = w.scratch.join("sa");
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::write(sa.join("token"), "SA-TOKEN\n").unwrap();
    let module = wasm_payload("wasm_probe");
    let with = |expose: Option<&str>| {
        let sa = sa.clone();
        let expose = expose.map(str::to_string);
        move |c: &mut serde_json::Value| {
            c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
                "destination": "/var/run/secrets/kubernetes.io/serviceaccount", "type": "bind",
                "source": sa.to_str().unwrap(), "options": ["rbind", "ro"]
            }));
            if let Some(v) = expose {
                c["annotations"]["io.isola.wasm.expose-service-account"] = v.into();
            }
        }
    };
    let path = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    let b = w.wasm_bundle("hidden", &module, &["read", path], with(None));
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("sa")]);
    assert!(stdout_of(&out).starts_with("unreachable"), "{}", stdout_of(&out));
    let b = w.wasm_bundle("shown", &module, &["read", path], with(Some("true")));
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("sa")]);
    assert_eq!(stdout_of(&out), "read: SA-TOKEN\n", "{}", stderr_of(&out));
}

#[test]
fn memory_grow_past_max_memory_fails_inside_the_guest() {
    let w = World::new("wasm-grow");
    let module = wasm_payload("wasm_probe");
    let b = w.wasm_bundle("b", &module, &["grow", "64"], |c| c["annotations"]["io.isola.wasm.max-memory"] = "2097152".into());
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("g")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "grow=-1\n");
    // Control: without the annotation the same growth succeeds.
    let b = w.wasm_bundle("c", &module, &["grow", "64"], |_| {});
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("g")]);
    assert_ne!(stdout_of(&out), "grow=-1\n");
}

#[test]
fn an_infinite_loop_ends_at_the_timeout_with_its_code() {
    let w = World::new("wasm-timeout");
    let b = w.wasm_bundle("b", &wasm_payload("wasm_probe"), &["loop"], |c| c["annotations"]["io.isola.wasm.timeout-ms"] = "500".into());
    let id = w.id("to");
    let started = Instant::now();
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &id]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(124));
    assert_eq!(stderr_of(&out), "wasm timeout: exceeded 500 ms\n");
    assert!(took < bound_ms(1500), "took {took:?}");
    w.assert_no_leftovers(&id);
}

/// Runs a wasm guest under a 500 ms limit with stdin an open pipe nobody writes (kept open
/// for the whole run) and returns its output and how long it took.
fn run_blocked_guest(w: &World, b: &std::path::Path, id: &str) -> (std::process::Output, Duration) {
    use std::process::Stdio;
    let policy = w.wasm_policy();
    let started = Instant::now();
    let mut child = w
        .isola()
        .args(["--config", policy.to_str().unwrap(), "run", "--bundle", b.to_str().unwrap(), id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // wait_with_output would close the stdin pipe first; hold our end open until the end.
    let stdin = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    drop(stdin);
    (out, took)
}

#[test]
fn the_timeout_holds_while_the_guest_is_blocked_in_a_host_call() {
    let w = World::new("wasm-blocked");
    let module = wasm_payload("wasm_probe");
    // Each case blocks the guest inside a different WASI call for far longer than the limit.
    let cases: &[(&str, &[&str])] = &[
        ("nanosleep (poll_oneoff on a clock)", &["sleep", "30"]),
        ("fd_read of an open stdin pipe", &["stdin"]),
        ("poll_oneoff on stdin", &["poll"]),
        ("open of a FIFO nobody writes", &["open", "/app/fifo"]),
    ];
    for (what, args) in cases {
        let b = w.wasm_bundle(&format!("b{}", w.id("x")), &module, args, |c| c["annotations"]["io.isola.wasm.timeout-ms"] = "500".into());
        let fifo = std::ffi::CString::new(b.join("rootfs/app/fifo").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let id = w.id("blk");
        let (out, took) = run_blocked_guest(&w, &b, &id);
        assert_eq!(out.status.code(), Some(124), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "wasm timeout: exceeded 500 ms\n", "{what}");
        assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "{what}: the guest never woke");
        assert!(took < bound_ms(1500), "{what}: took {took:?}");
        w.assert_no_leftovers(&id);
    }
    // Control: without a limit the same sleeping guest wakes and finishes on its own.
    let b = w.wasm_bundle("ctl", &module, &["sleep", "1"], |_| {});
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("ctl")]);
    assert_eq!((out.status.code(), stdout_of(&out).as_str()), (Some(0), "woke\n"), "{}", stderr_of(&out));
}

#[test]
fn a_fuel_budget_ends_a_loop() {
    let w = World::new("wasm-fuel");
    let b = w.wasm_bundle("b", &wasm_payload("wasm_probe"), &["loop"], |c| c["annotations"]["io.isola.wasm.fuel"] = "1000000".into());
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("f")]);
    assert_eq!(out.status.code(), Some(135));
    assert_eq!(stderr_of(&out), "wasm fuel exhausted: budget 1000000\n");
}

#[test]
fn kill_term_ends_a_running_guest_promptly() {
    let w = World::new("wasm-kill");
    let id = w.id("k");
    let b = w.wasm_bundle("b", &wasm_payload("wasm_probe"), &["loop"], |_| {});
    let out = w.run_wasm(&["run", "--detach", "--bundle", b.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(w.state(&id)["status"], "running");
    let started = Instant::now();
    assert!(w.run(&["kill", &id, "TERM"]).status.success());
    wait_until("stopped", || w.state(&id)["status"] == "stopped");
    let took = started.elapsed();
    eprintln!("SIGTERM to stopped: {took:?}");
    assert!(took < bound_ms(500), "took {took:?} (target 100 ms)");
    assert!(w.run(&["delete", &id]).status.success());
    w.assert_no_leftovers(&id);
}

#[test]
fn twenty_concurrent_starts_compile_a_module_once() {
    let w = World::new("wasm-once");
    let b = w.wasm_bundle("b", &wasm_payload("wasm_probe"), &["hello"], |_| {});
    let policy = w.wasm_policy();
    let logs: Vec<_> = (0..20).map(|i| w.scratch.join(format!("log-{i}.json"))).collect();
    let w = &w;
    std::thread::scope(|s| {
        for log in &logs {
            let (b, policy, id) = (b.clone(), policy.clone(), w.id("once"));
            s.spawn(move || {
                let out = w.run(&["--config", policy.to_str().unwrap(), "--log", log.to_str().unwrap(), "--log-format", "json", "run", "--bundle", b.to_str().unwrap(), &id]);
                assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
            });
        }
    });
    let compiles: usize = logs
        .iter()
        .map(|l| std::fs::read_to_string(l).unwrap_or_default().matches("compiled wasm module into cache").count())
        .sum();
    assert_eq!(compiles, 1, "twenty first starts compile once");
    // The node default is tiered: the Winch artifact, and the Cranelift one once the
    // background compile is done.
    let artifacts = std::fs::read_dir(w.scratch.join("module-cache")).unwrap().flatten().filter(|e| e.path().extension().is_some_and(|x| x == "cwasm")).count();
    assert!((1..=2).contains(&artifacts), "{artifacts} artifacts");
}

#[test]
fn corrupted_or_foreign_artifacts_are_never_loaded() {
    let w = World::new("wasm-tamper");
    let b = w.wasm_bundle("b", &wasm_payload("wasm_probe"), &["hello"], |_| {});
    let log = w.scratch.join("log.json");
    // One tier, so each compile is a store of the one artifact this test corrupts (the tiered
    // cache's own case is in compile_bounds.rs).
    let policy = w.scratch.join("cranelift.toml");
    std::fs::write(&policy, format!("[wasm]\nmodule-cache = \"{}\"\ncompiler = \"cranelift\"\n", w.scratch.join("module-cache").display())).unwrap();
    let run = || w.run(&["--config", policy.to_str().unwrap(), "--log", log.to_str().unwrap(), "--log-format", "json", "run", "--bundle", b.to_str().unwrap(), &w.id("t")]);
    let compiles = || std::fs::read_to_string(&log).unwrap_or_default().matches("compiled wasm module into cache").count();
    assert_eq!(run().status.code(), Some(3));
    assert_eq!(compiles(), 1);
    let artifact = std::fs::read_dir(w.scratch.join("module-cache")).unwrap().flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "cwasm")).unwrap();
    assert_eq!(run().status.code(), Some(3));
    assert_eq!(compiles(), 1, "a warm start is a cache hit");

    // Corrupt the code: the artifact must be discarded and recompiled, never run.
    let mut bytes = std::fs::read(&artifact).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0xff;
    }
    std::fs::write(&artifact, &bytes).unwrap();
    assert_eq!(run().status.code(), Some(3));
    assert_eq!(compiles(), 2, "a corrupted artifact is recompiled");

    // Hand the artifact to another user: not trusted either.
    std::os::unix::fs::chown(&artifact, Some(4242), Some(4242)).unwrap();
    assert_eq!(run().status.code(), Some(3));
    assert_eq!(compiles(), 3, "a foreign-owned artifact is recompiled");
}

#[test]
fn bad_modules_fail_create_with_one_clear_error_and_no_leftovers() {
    let w = World::new("wasm-bad");
    let good = std::fs::read(wasm_payload("wasm_probe")).unwrap();
    let dir = w.scratch.join("modules");
    std::fs::create_dir_all(&dir).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text", b"#!/bin/sh\necho not wasm\n".to_vec(), "not a wasm binary"),
        ("truncated", good[..good.len() / 3].to_vec(), "truncated"),
        ("import", wat_module_importing_unknown(), "env::launch_missiles"),
    ];
    for (name, bytes, word) in cases {
        let path = dir.join(format!("{name}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        let b = w.wasm_bundle(name, &path, &[], |_| {});
        let id = w.id(name);
        let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &id]);
        assert!(!out.status.success(), "{name} ran");
        let err = stderr_of(&out);
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(&id) && err.to_lowercase().contains(word), "{name}: {err}");
        w.assert_no_leftovers(&id);
    }
}

/// A minimal module importing `env::launch_missiles`, in binary form (no wat crate needed).
fn wat_module_importing_unknown() -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type section: () -> ()
    let name = b"launch_missiles";
    let mut import = vec![0x01, 0x03];
    import.extend_from_slice(b"env");
    import.push(name.len() as u8);
    import.extend_from_slice(name);
    import.extend_from_slice(&[0x00, 0x00]); // func, type 0
    m.push(0x02);
    m.push(import.len() as u8);
    m.extend_from_slice(&import);
    m
}

#[test]
fn a_smart_container_with_a_native_entrypoint_runs_as_linux() {
    let w = World::new("wasm-smart");
    let b = w.bundle("b", &["sh", "-c", "echo native; exit 5"], |c| {
        c["annotations"] = serde_json::json!({"run.oci.handler": "wasm-smart"});
    });
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("sm")]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "native\n");
    // And with a wasm entrypoint, the same annotation runs wasm.
    let b = w.wasm_bundle("w", &wasm_payload("wasm_probe"), &["hello"], |c| {
        c["annotations"] = serde_json::json!({"module.wasm.image/variant": "compat-smart"});
    });
    let out = w.run_wasm(&["run", "--bundle", b.to_str().unwrap(), &w.id("sm")]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
}

#[test]
fn precompile_warms_the_cache_for_the_first_start() {
    let w = World::new("wasm-precompile");
    let module = wasm_payload("wasm_probe");
    let policy = w.wasm_policy();
    let out = w.run(&["--config", policy.to_str().unwrap(), "precompile", module.to_str().unwrap()]);
    assert_eq!(stdout_of(&out), format!("compiled {}\n", module.display()), "{}", stderr_of(&out));
    let out = w.run(&["--config", policy.to_str().unwrap(), "precompile", module.to_str().unwrap()]);
    assert_eq!(stdout_of(&out), format!("cached {}\n", module.display()));
    let b = w.wasm_bundle("b", &module, &["hello"], |_| {});
    let log = w.scratch.join("log.json");
    let out = w.run_wasm(&["--log", log.to_str().unwrap(), "--log-format", "json", "run", "--bundle", b.to_str().unwrap(), &w.id("p")]);
    assert_eq!(out.status.code(), Some(3));
    assert!(!std::fs::read_to_string(&log).unwrap_or_default().contains("compiled wasm module"), "the first start was a cache hit");
}

#[test]
fn precompile_with_a_containers_annotations_warms_that_containers_engine() {
    let w = World::new("wasm-precompile-ann");
    let module = wasm_payload("wasm_probe");
    let timeout = "io.isola.wasm.timeout-ms=60000";
    let b = w.wasm_bundle("b", &module, &["hello"], |c| {
        c["annotations"]["io.isola.wasm.timeout-ms"] = serde_json::json!("60000");
    });
    // One node policy (and module cache) per case: a first start's background compile may
    // still be writing into the cache of the case before.
    let policy_for = |case: &str| {
        let policy = w.scratch.join(format!("{case}.toml"));
        std::fs::write(&policy, format!("[wasm]\nmodule-cache = \"{}\"\n", w.scratch.join(format!("cache-{case}")).display())).unwrap();
        policy
    };
    let precompile = |policy: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["--config", policy.to_str().unwrap(), "precompile"];
        args.extend_from_slice(extra);
        args.push(module.to_str().unwrap());
        w.run(&args)
    };
    let first_start_compiles = |policy: &std::path::Path, tag: &str| {
        let log = w.scratch.join(format!("log-{tag}.json"));
        let out = w.run(&["--config", policy.to_str().unwrap(), "--log", log.to_str().unwrap(), "--log-format", "json", "run", "--bundle", b.to_str().unwrap(), &w.id(tag)]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
        std::fs::read_to_string(&log).unwrap_or_default().contains("compiled wasm module")
    };
    // Negative control: the node's default engine (no epoch checks) does not serve a container
    // with a timeout, whose first start compiles.
    let plain = policy_for("plain");
    let out = precompile(&plain, &[]);
    assert_eq!(stdout_of(&out), format!("compiled {}\n", module.display()), "{}", stderr_of(&out));
    assert!(first_start_compiles(&plain, "plain"), "a timeout container started warm from the plain engine's code");
    // With the same annotation, precompile fills that engine's artifact: the first start hits.
    let annotated = policy_for("annotated");
    let out = precompile(&annotated, &["--annotation", timeout]);
    assert_eq!(stdout_of(&out), format!("compiled {}\n", module.display()), "{}", stderr_of(&out));
    assert!(!first_start_compiles(&annotated, "annotated"), "the first start compiled although precompile had");
    // A bad annotation is one clear error naming it.
    for bad in ["io.isola.wasm.timeout-ms=soon", "no-equals-sign"] {
        let out = precompile(&annotated, &["--annotation", bad]);
        assert!(!out.status.success(), "{bad} was accepted");
        assert!(stderr_of(&out).contains(bad.split('=').next().unwrap()), "{bad}: {}", stderr_of(&out));
    }
}

/// Seccomp filters stacked on a process, from /proc/PID/status.
fn seccomp_filters(pid: i64) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Seccomp_filters:")).and_then(|v| v.trim().parse().ok())
}

#[test]
fn the_wasm_host_runs_under_its_own_second_filter_unless_the_node_turns_it_off() {
    let w = World::new("wasm-hostfilter");
    let b = w.wasm_bundle("b", &wasm_payload("wasm_probe"), &["loop"], |_| {});
    let relaxed = w.scratch.join("relaxed.toml");
    let cache = w.scratch.join("module-cache");
    std::fs::write(&relaxed, format!("[wasm]\nmodule-cache = \"{}\"\nhost-seccomp = false\n", cache.display())).unwrap();
    for (policy, want) in [(w.wasm_policy(), 2), (relaxed, 1)] {
        let id = w.id(&format!("f{want}"));
        let out = w.run(&["--config", policy.to_str().unwrap(), "run", "--detach", "--bundle", b.to_str().unwrap(), &id]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let pid = w.state(&id)["pid"].as_i64().unwrap();
        // The container's filter goes on before the guest is instantiated, the host's after.
        wait_until("the container's filter", || seccomp_filters(pid).is_some_and(|n| n >= 1));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(seccomp_filters(pid), Some(want), "policy {}", policy.display());
        assert!(w.run(&["kill", &id, "KILL"]).status.success());
        wait_until("stopped", || w.state(&id)["status"] == "stopped");
        assert!(w.run(&["delete", &id]).status.success());
        w.assert_no_leftovers(&id);
    }
}
