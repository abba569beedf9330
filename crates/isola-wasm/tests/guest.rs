//! What a guest sees and how it ends: stdio, args/env/cwd, preopens, limits, traps, clocks,
//! components. Each test runs a real C program compiled to wasm32-wasi by clang at test time;
//! none of them may depend on the host's environment or files outside its temp dir.

mod common;

use std::time::{Duration, Instant};

use common::{fixture, guest, run_captured, sandbox};
use isola_wasm::{Outcome, Preopen, SandboxConfig};

#[test]
fn hello_prints_to_stdout_and_exits_zero() {
    let (sb, _tmp) = sandbox(&SandboxConfig::default());
    let (outcome, out, _) = run_captured(&sb, &guest(&fixture("hello"), &[]));
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(outcome.exit_code(), 0);
    assert_eq!(outcome.reason(), None);
    assert_eq!(out, "hello from wasm\n");
}

#[test]
fn args_and_exactly_the_given_env_arrive() {
    let (sb, _tmp) = sandbox(&SandboxConfig::default());
    let mut g = guest(
        &fixture("probe"),
        &["args", "env:FOO", "env:HOME", "env:PATH", "environ"],
    );
    g.args[0] = "prog-name".into();
    g.env = vec![("FOO".into(), "bar baz".into())];
    // The test process has HOME and PATH; the guest must not.
    assert!(std::env::var_os("PATH").is_some());
    let (outcome, out, _) = run_captured(&sb, &g);
    assert_eq!(outcome, Outcome::Exited(0));
    assert!(out.contains("argc=6\n"), "{out}");
    assert!(out.contains("argv[0]=prog-name\n"), "{out}");
    assert!(out.contains("argv[1]=args\n"), "{out}");
    assert!(out.contains("FOO=bar baz\n"), "{out}");
    assert!(out.contains("HOME unset\n"), "{out}");
    assert!(out.contains("PATH unset\n"), "{out}");
    assert!(out.contains("environ=1\n"), "{out}");
}

/// The guest's environment is the caller's list and nothing else: a cwd adds no `PWD`
/// (wasi-libc never reads it, and the wasmtime CLI adds none). A program that is told its
/// directory and changes to it resolves relative paths from there.
#[test]
fn a_cwd_adds_no_pwd_and_relative_paths_resolve_after_chdir() {
    let (sb, tmp) = sandbox(&SandboxConfig::default());
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("work/dir")).unwrap();
    std::fs::write(root.join("work/dir/data.txt"), "in the cwd\n").unwrap();
    let mut g = guest(&fixture("probe"), &["env:PWD", "environ", "cd-pwd", "read:data.txt"]);
    g.preopens = vec![Preopen {
        host: root,
        guest: "/".into(),
        read_only: true,
    }];
    g.cwd = Some("/work/dir".into());
    let (outcome, out, _) = run_captured(&sb, &g);
    assert_eq!(outcome, Outcome::Exited(0));
    assert!(out.contains("PWD unset\n"), "{out}");
    assert!(out.contains("environ=0\n"), "{out}");
    g.env = vec![("PWD".into(), "/work/dir".into())];
    let (outcome, out, _) = run_captured(&sb, &g);
    assert_eq!(outcome, Outcome::Exited(0));
    assert!(out.contains("chdir=0 cwd=/work/dir\n"), "{out}");
    assert!(out.contains("read data.txt ok in the cwd\n"), "{out}");
}

#[test]
fn read_only_preopen_is_readable_but_not_writable() {
    let (sb, tmp) = sandbox(&SandboxConfig::default());
    let ro = tmp.path().join("ro");
    let rw = tmp.path().join("rw");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::write(ro.join("file.txt"), "read me\n").unwrap();
    let mut g = guest(
        &fixture("probe"),
        &[
            "read:/ro/file.txt",
            "write:/ro/file.txt",
            "write:/ro/new.txt",
            "write:/rw/new.txt",
        ],
    );
    g.preopens = vec![
        Preopen {
            host: ro.clone(),
            guest: "/ro".into(),
            read_only: true,
        },
        Preopen {
            host: rw.clone(),
            guest: "/rw".into(),
            read_only: false,
        },
    ];
    let (outcome, out, _) = run_captured(&sb, &g);
    assert_eq!(outcome, Outcome::Exited(0));
    assert!(out.contains("read /ro/file.txt ok read me\n"), "{out}");
    assert!(out.contains("write /ro/file.txt fail"), "{out}");
    assert!(out.contains("write /ro/new.txt fail"), "{out}");
    assert!(out.contains("write /rw/new.txt ok"), "{out}");
    assert_eq!(
        std::fs::read_to_string(ro.join("file.txt")).unwrap(),
        "read me\n"
    );
    assert!(!ro.join("new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(rw.join("new.txt")).unwrap(),
        "written\n"
    );
}

#[test]
fn guest_cannot_open_file_outside_preopens() {
    let (sb, tmp) = sandbox(&SandboxConfig::default());
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let secret = tmp.path().join("secret.txt");
    std::fs::write(&secret, "CANARY-7f3a\n").unwrap();
    std::os::unix::fs::symlink(&secret, root.join("sub/link")).unwrap();
    let host_abs = secret.to_str().unwrap().to_string();
    let attempts = [
        "read:/../secret.txt".to_string(),
        "read:../secret.txt".to_string(),
        "read:/sub/../../secret.txt".to_string(),
        "read:/sub/link".to_string(),
        format!("read:{host_abs}"),
        "read:/etc/passwd".to_string(),
    ];
    let args: Vec<&str> = attempts.iter().map(String::as_str).collect();
    let mut g = guest(&fixture("probe"), &args);
    g.preopens = vec![Preopen {
        host: root,
        guest: "/".into(),
        read_only: false,
    }];
    let (outcome, out, _) = run_captured(&sb, &g);
    assert_eq!(outcome, Outcome::Exited(0));
    assert!(!out.contains("CANARY"), "{out}");
    assert!(!out.contains(" ok "), "{out}");
    assert_eq!(out.matches(" fail ").count(), attempts.len(), "{out}");
}

#[test]
fn memory_grow_past_max_memory_returns_minus_one_and_guest_continues() {
    let cfg = SandboxConfig {
        max_memory: 8 << 20,
        ..SandboxConfig::default()
    };
    let (sb, _tmp) = sandbox(&cfg);
    // 256 pages = 16 MiB, twice the limit.
    let (outcome, out, _) = run_captured(
        &sb,
        &guest(&fixture("probe"), &["grow:256", "grow:1", "exit:7"]),
    );
    assert!(out.contains("grow=-1\n"), "{out}");
    assert!(out.contains("continued malloc=ok\n"), "{out}");
    // A small grow within the limit still works afterwards.
    assert!(
        out.lines()
            .filter(|l| l.starts_with("grow="))
            .nth(1)
            .is_some_and(|l| l != "grow=-1"),
        "{out}"
    );
    assert_eq!(outcome, Outcome::Exited(7));
}

#[test]
fn infinite_loop_is_stopped_by_timeout() {
    let cfg = SandboxConfig {
        timeout: Some(Duration::from_millis(500)),
        ..SandboxConfig::default()
    };
    let (sb, _tmp) = sandbox(&cfg);
    let (prepared, _out, _err) =
        common::prepare_captured(&sb, &guest(&fixture("probe"), &["loop"]));
    let started = Instant::now();
    let outcome = prepared.run();
    let elapsed = started.elapsed();
    assert!(matches!(outcome, Outcome::Timeout { .. }), "{outcome:?}");
    assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert_eq!(outcome.exit_code(), 124);
    assert_eq!(
        outcome.reason().as_deref(),
        Some("wasm timeout: exceeded 500 ms")
    );
}

#[test]
fn fuel_budget_ends_a_loop() {
    let cfg = SandboxConfig {
        fuel: Some(2_000_000),
        ..SandboxConfig::default()
    };
    let (sb, _tmp) = sandbox(&cfg);
    let (outcome, _, _) = run_captured(&sb, &guest(&fixture("probe"), &["loop"]));
    assert_eq!(outcome, Outcome::FuelExhausted { budget: 2_000_000 });
    assert_eq!(outcome.exit_code(), 135);
    assert_eq!(
        outcome.reason().as_deref(),
        Some("wasm fuel exhausted: budget 2000000")
    );
}

#[test]
fn fuel_budget_large_enough_lets_the_guest_finish() {
    let cfg = SandboxConfig {
        fuel: Some(50_000_000),
        ..SandboxConfig::default()
    };
    let (sb, _tmp) = sandbox(&cfg);
    let (outcome, out, _) = run_captured(&sb, &guest(&fixture("hello"), &[]));
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(out, "hello from wasm\n");
}

#[test]
fn trap_exits_134_with_wasmtime_message() {
    let (sb, _tmp) = sandbox(&SandboxConfig::default());
    let (outcome, _, _) = run_captured(&sb, &guest(&fixture("probe"), &["trap"]));
    assert_eq!(outcome, Outcome::Trap("out of bounds memory access".into()));
    assert_eq!(outcome.exit_code(), 134);
    assert_eq!(
        outcome.reason().as_deref(),
        Some("wasm trap: out of bounds memory access")
    );
}

#[test]
fn proc_exit_code_is_passed_through() {
    let (sb, _tmp) = sandbox(&SandboxConfig::default());
    let (outcome, _, _) = run_captured(&sb, &guest(&fixture("probe"), &["exit:42"]));
    assert_eq!(outcome, Outcome::Exited(42));
    assert_eq!(outcome.exit_code(), 42);
    assert_eq!(outcome.reason(), None);
}

#[test]
fn clocks_are_coarsened_to_the_configured_resolution() {
    let res = Duration::from_millis(10);
    let cfg = SandboxConfig {
        clock_resolution: res,
        ..SandboxConfig::default()
    };
    let (sb, _tmp) = sandbox(&cfg);
    let (outcome, out, _) = run_captured(&sb, &guest(&fixture("probe"), &["clock:50", "wall"]));
    assert_eq!(outcome, Outcome::Exited(0));
    let ns = res.as_nanos() as i64;
    assert!(out.contains(&format!("res={ns}\n")), "{out}");
    let mono: Vec<i64> = out
        .lines()
        .filter_map(|l| l.strip_prefix("mono="))
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(mono.len(), 50);
    for w in mono.windows(2) {
        let d = w[1] - w[0];
        assert!(
            d >= 0 && d % ns == 0,
            "readings {} and {} differ by {d}",
            w[0],
            w[1]
        );
    }
    let wall: i64 = out
        .lines()
        .find_map(|l| l.strip_prefix("wall="))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(wall % ns, 0, "wall clock {wall} not a multiple of {ns}");
}

#[test]
fn component_made_from_preview1_module_runs_and_prints() {
    let (sb, tmp) = sandbox(&SandboxConfig::default());
    let core = std::fs::read(fixture("probe")).unwrap();
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&core)
        .unwrap()
        .adapter(
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        )
        .unwrap()
        .encode()
        .unwrap();
    let path = tmp.path().join("probe.component.wasm");
    std::fs::write(&path, component).unwrap();

    let mut g = guest(&path, &["args", "env:FOO"]);
    g.env = vec![("FOO".into(), "from-component".into())];
    let (outcome, out, _) = run_captured(&sb, &g);
    assert_eq!(outcome, Outcome::Exited(0));
    assert!(out.contains("argv[1]=args\n"), "{out}");
    assert!(out.contains("FOO=from-component\n"), "{out}");

    // The wasmtime 48 preview1 adapter maps proc_exit(n != 0) to `wasi:cli/exit.exit(err)`,
    // so a component reports 1 (documented in the crate's exit-code table).
    let (outcome, _, _) = run_captured(&sb, &guest(&path, &["exit:3"]));
    assert_eq!(outcome, Outcome::Exited(1));
    let (outcome, _, _) = run_captured(&sb, &guest(&path, &["trap"]));
    assert_eq!(outcome.exit_code(), 134, "{outcome:?}");
}

#[test]
fn pooling_allocator_runs_the_same_guest() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = isola_wasm::ModuleCache::new(tmp.path().join("cache")).unwrap();
    let sb = isola_wasm::Sandbox::with_allocator(
        &SandboxConfig::default(),
        cache,
        isola_wasm::Allocator::Pooling,
    )
    .unwrap();
    let (outcome, out, _) = run_captured(&sb, &guest(&fixture("hello"), &[]));
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(out, "hello from wasm\n");
}
