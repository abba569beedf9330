//! Fuzzes the annotation parsers of isola-policy: `mode::select` (which layer) and
//! `wasm::plan_wasm` (sizes, durations, budgets, booleans). Asserts that a refusal is a one-line
//! `Err`, and that an accepted value means what the design's table says: numbers are the decimal
//! written (round-trip), memory never above the cgroup limit, the pause container always Linux.

#![no_main]

use arbitrary::{Result, Unstructured};
use isola_policy::mode::select;
use isola_policy::wasm::{plan_wasm, PREFIX};
use isola_policy::WasmSelection;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let ann = isola_fuzz::annotations(u)?;
    let limit: Option<u64> = u.arbitrary()?;
    let node = isola_fuzz::node_config(u)?;

    let sandbox = ["io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType"]
        .iter()
        .any(|k| ann.get(*k).map(String::as_str) == Some("sandbox"));
    match select(&ann) {
        Ok(sel) => {
            if sandbox {
                assert_eq!(sel, WasmSelection::Linux, "the pause container must be Linux");
            } else if let Some(m) = ann.get("io.isola.mode") {
                let want = match m.as_str() {
                    "wasm" => WasmSelection::Wasm,
                    "auto" => WasmSelection::Smart,
                    "linux" => WasmSelection::Linux,
                    other => panic!("io.isola.mode={other:?} was accepted"),
                };
                assert_eq!(sel, want);
            }
        }
        Err(e) => {
            assert!(!sandbox, "a sandbox container was refused: {e}");
            assert!(!e.contains('\n'), "a refusal is one line: {e:?}");
        }
    }

    match plan_wasm(&ann, limit, &node) {
        Ok((plan, clamps)) => {
            let num = |k: &str| ann.get(&format!("{PREFIX}{k}")).map(|v| v.trim().parse::<u64>().expect("a bad number was accepted"));
            for (k, _) in ann.iter().filter(|(k, _)| k.starts_with(PREFIX)) {
                let known = ["max-memory", "timeout-ms", "fuel", "clock-resolution-ns", "expose-service-account"];
                assert!(known.contains(&&k[PREFIX.len()..]), "unknown annotation {k:?} was accepted");
            }
            let want_mem = num("max-memory").unwrap_or(limit.unwrap_or(node.wasm.max_memory));
            let want_mem = limit.map_or(want_mem, |l| want_mem.min(l));
            assert_eq!(plan.max_memory, want_mem);
            if let Some(l) = limit {
                assert!(plan.max_memory <= l, "max-memory above the cgroup limit");
            }
            assert_eq!(clamps.is_empty(), num("max-memory").unwrap_or(limit.unwrap_or(node.wasm.max_memory)) == want_mem);
            let want_timeout = num("timeout-ms").unwrap_or(node.wasm.timeout_ms);
            assert_eq!(plan.timeout_ms, (want_timeout > 0).then_some(want_timeout));
            let want_fuel = num("fuel").unwrap_or(node.wasm.fuel);
            assert_eq!(plan.fuel, (want_fuel > 0).then_some(want_fuel));
            assert_eq!(plan.clock_resolution_ns, num("clock-resolution-ns").unwrap_or(node.wasm.clock_resolution_ns).max(1));
            assert_eq!(plan.host_seccomp, node.wasm.host_seccomp, "host seccomp is node policy only");
            // A number round-trips: writing it back in decimal gives the same plan.
            let mut again = ann.clone();
            for (k, v) in again.iter_mut() {
                if let Ok(n) = v.trim().parse::<u64>() {
                    if k.starts_with(PREFIX) {
                        *v = n.to_string();
                    }
                }
            }
            assert_eq!(plan_wasm(&again, limit, &node).map(|(p, _)| p), Ok(plan));
        }
        Err(e) => assert!(!e.contains('\n'), "a refusal is one line: {e:?}"),
    }
    Ok(())
}
