//! Runs one wasm module with isola's default sandbox config, for timing with hyperfine:
//! `cargo run --release -p isola-wasm --example run -- MODULE [ARGS...]`.
//! Options (before MODULE): `--pooling` (pooling allocator), `--no-cache` (compile in memory),
//! `--cache DIR` (default /var/cache/isola-wasm-example), `--times` (phase timings on stderr),
//! `--bench N` (prepare+run N times in this process, guest stdout to /dev/null, print medians).
//! The current directory is preopened read-only as `/`. It never passes the host env through.

use std::path::PathBuf;
use std::time::Instant;

use isola_wasm::{Allocator, Guest, ModuleCache, Preopen, Sandbox, SandboxConfig};

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let mut allocator = Allocator::OnDemand;
    let mut cache_dir = Some(PathBuf::from("/var/cache/isola-wasm-example"));
    let mut times = false;
    let mut bench: Option<usize> = None;
    while let Some(a) = args.peek() {
        match a.as_str() {
            "--pooling" => allocator = Allocator::Pooling,
            "--no-cache" => cache_dir = None,
            "--times" => times = true,
            "--bench" => {
                args.next();
                bench = args.peek().and_then(|n| n.parse().ok());
            }
            "--cache" => {
                args.next();
                cache_dir = args.peek().map(PathBuf::from);
            }
            _ => break,
        }
        args.next();
    }
    let Some(module) = args.next() else {
        eprintln!("usage: run [--pooling] [--no-cache] [--cache DIR] [--times] MODULE [ARGS...]");
        std::process::exit(2);
    };
    let mut argv = vec![module.clone()];
    argv.extend(args);

    let t0 = Instant::now();
    let cache = match cache_dir {
        Some(d) => ModuleCache::new(d),
        None => Ok(ModuleCache::disabled()),
    };
    let sandbox =
        cache.and_then(|c| Sandbox::with_allocator(&SandboxConfig::default(), c, allocator));
    let sandbox = match sandbox {
        Ok(s) => s,
        Err(e) => {
            eprintln!("run: {e}");
            std::process::exit(1);
        }
    };
    let t1 = Instant::now();
    let guest = Guest {
        module: PathBuf::from(&module),
        args: argv,
        env: vec![],
        preopens: vec![Preopen {
            host: PathBuf::from("."),
            guest: "/".into(),
            read_only: true,
        }],
        cwd: None,
    };
    if let Some(n) = bench {
        bench_in_process(&sandbox, &guest, n.max(1));
        return;
    }
    let prepared = match sandbox.prepare(&guest) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("run: {e}");
            std::process::exit(1);
        }
    };
    let cache_outcome = prepared.cache_outcome();
    let t2 = Instant::now();
    let outcome = prepared.run();
    let t3 = Instant::now();
    if times {
        eprintln!(
            "engine {} us, prepare {} us ({cache_outcome:?}), run {} us, allocator {allocator:?}",
            (t1 - t0).as_micros(),
            (t2 - t1).as_micros(),
            (t3 - t2).as_micros()
        );
    }
    if let Some(line) = outcome.reason() {
        eprintln!("{line}");
    }
    std::process::exit(outcome.exit_code());
}

/// Median and minimum of prepare and run over `n` in-process iterations (warm cache after the
/// first), printed in microseconds.
fn bench_in_process(sandbox: &Sandbox, guest: &Guest, n: usize) {
    let mut prep = Vec::with_capacity(n);
    let mut run = Vec::with_capacity(n);
    for _ in 0..n {
        let devnull = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .ok();
        let stdio = isola_wasm::GuestStdio {
            stdin: None,
            stdout: devnull,
            stderr: None,
        };
        let t0 = Instant::now();
        let prepared = match sandbox.prepare_with_stdio(guest, stdio) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("run: {e}");
                std::process::exit(1);
            }
        };
        let t1 = Instant::now();
        let _ = prepared.run();
        prep.push((t1 - t0).as_micros());
        run.push(t1.elapsed().as_micros());
    }
    prep.sort_unstable();
    run.sort_unstable();
    println!(
        "{n} iterations: prepare median {} us (min {}), run median {} us (min {})",
        prep[n / 2],
        prep[0],
        run[n / 2],
        run[0]
    );
}
