//! Fuzzes the state files isola reads back from its state directory: its own record
//! (`isola.json`, `Record::parse`), the planned spec (`planned.json`, read as `Spec::load` does)
//! and libcontainer's `state.json` (read as `State::load` does). Asserts no panic, and that
//! whatever is accepted writes back to a file that reads back the same (a fixpoint).
//!
//! Input: the first byte picks the file (0 record, 1 planned spec, 2 libcontainer state).

#![no_main]

use isola_runtime::state::Record;
use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else { return };
    match which % 3 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            let Ok(record) = Record::parse(text) else { return };
            let written = serde_json::to_string(&record).expect("a record serializes");
            let again = Record::parse(&written).expect("a written record reads back");
            assert_eq!(serde_json::to_string(&again).expect("serializes"), written);
            assert_eq!(again.mode, record.mode);
            assert_eq!(again.bundle, record.bundle);
        }
        1 => {
            let Some(spec) = fixpoint::<oci_spec::runtime::Spec>(rest, |a, b| a == b) else { return };
            // What the runtime derives from it (`cgroup_path`, `exec`'s process).
            let _ = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
            if let Some(p) = spec.process().clone() {
                let _ = isola_policy::plan_exec_process(p, &Default::default(), &host());
            }
        }
        _ => {
            let Some(state) = fixpoint::<libcontainer::container::State>(rest, same_json) else { return };
            let s = state.status;
            let _ = (s.can_start(), s.can_kill(), s.can_delete(), s.can_pause(), s.can_resume());
        }
    }
});

/// Parses `bytes` as `from_reader` does; if accepted, checks that writing it and reading it back
/// gives the same value (`same`: capability sets serialize in hash order, so not the same text).
fn fixpoint<T: Serialize + DeserializeOwned>(bytes: &[u8], same: fn(&T, &T) -> bool) -> Option<T> {
    let value: T = serde_json::from_reader(bytes).ok()?;
    let written = serde_json::to_vec(&value).expect("an accepted file serializes");
    let again: T = serde_json::from_slice(&written).expect("a written file reads back");
    assert!(same(&again, &value), "not a fixpoint: {}", String::from_utf8_lossy(&written));
    Some(value)
}

/// Equal as JSON trees (maps compare regardless of order).
fn same_json<T: Serialize>(a: &T, b: &T) -> bool {
    serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
}

fn host() -> isola_policy::HostFacts {
    isola_policy::HostFacts {
        bounding: isola_fuzz::cap_set(u64::MAX),
        oom_score_adj: 0,
        rootfs: "/bundle/rootfs".into(),
        entrypoint_is_wasm: false,
        systemd_cgroup: false,
    }
}
