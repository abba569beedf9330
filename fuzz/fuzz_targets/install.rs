//! Fuzzes `isola_node::install::configure`, the containerd config edit, with any TOML. Asserts
//! that it either refuses with a one-line `Err` or returns a config that a plain TOML reader
//! parses, holds the handler exactly as `install` promises, keeps every value outside the
//! handler's table (and, for a new handler, every input line, in order, up to whitespace), and is
//! a fixpoint.

#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use isola_node::install::{configure, PASSED_ANNOTATIONS};
use libfuzzer_sys::fuzz_target;

const BIN: &str = "/usr/local/bin/isola";
const ROOT: &str = "/run/isola";
/// The CRI runtimes' plugin of a version 2 (containerd 1.x) and a version 3 (2.x) config.
const CRI_V2: &str = "io.containerd.grpc.v1.cri";
const CRI_V3: &str = "io.containerd.cri.v1.runtime";

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let handler = ["isola", "wasm", "runc"][usize::from(*which) % 3];
    let path = Path::new("config.toml");
    let out = match configure(path, text, handler, Path::new(BIN), Path::new(ROOT)) {
        Ok(out) => out,
        Err(e) => {
            assert!(!e.to_string().contains('\n'), "a refusal is one line: {e}");
            return;
        }
    };
    let before: toml::Table = toml::from_str(text).expect("configure accepted text a TOML reader refuses");
    let after: toml::Table = match toml::from_str(&out) {
        Ok(t) => t,
        Err(e) => panic!("configure wrote unparsable TOML: {e}\n--- in\n{text}\n--- out\n{out}"),
    };
    let version = after.get("version").and_then(|v| v.as_integer());
    assert!(matches!(version, Some(2 | 3)), "version {version:?} written");
    assert_eq!(version, before.get("version").and_then(|v| v.as_integer()).or(Some(2)), "the version is kept");
    let cri = if version == Some(3) { CRI_V3 } else { CRI_V2 };
    let runtimes = |t: &toml::Table| -> Option<toml::Table> {
        t.get("plugins")?.get(cri)?.get("containerd")?.get("runtimes")?.as_table().cloned()
    };
    let h = runtimes(&after).and_then(|r| r.get(handler).cloned()).expect("the handler table is there");
    assert_eq!(h["runtime_type"].as_str(), Some("io.containerd.runc.v2"));
    let strings = |v: &toml::Value| -> Vec<String> {
        v.as_array().expect("array").iter().map(|s| s.as_str().expect("string").to_owned()).collect()
    };
    assert_eq!(strings(&h["pod_annotations"]), PASSED_ANNOTATIONS);
    assert_eq!(strings(&h["container_annotations"]), PASSED_ANNOTATIONS);
    assert_eq!(h["options"]["BinaryName"].as_str(), Some(BIN));
    assert_eq!(h["options"]["Root"].as_str(), Some(ROOT));
    if handler != "runc" {
        let runc_systemd = runtimes(&before)
            .and_then(|r| r.get("runc")?.get("options")?.get("SystemdCgroup")?.as_bool());
        if let Some(on) = runc_systemd {
            assert_eq!(h["options"].get("SystemdCgroup").and_then(|v| v.as_bool()), Some(on));
        }
    }

    // Every value outside the handler's table is kept.
    let mut want = leaves(&before, cri, handler);
    let got = leaves(&after, cri, handler);
    if before.is_empty() {
        want.insert(format!("{:?}", ["version"]), format!("{:?}", toml::Value::Integer(2)));
    }
    assert_eq!(got, want, "a value outside the handler table changed\n--- in\n{text}\n--- out\n{out}");

    // A new handler is only added: every input line survives, in order. Compared without
    // whitespace: toml_edit 0.22 re-renders a dotted key `a  .b = 1` as `a.b = 1` when the
    // document around it changes (same meaning, checked above; a cosmetic loss).
    if runtimes(&before).is_none_or(|r| !r.contains_key(handler)) && !text.is_empty() {
        let squash = |l: &str| l.split_whitespace().collect::<String>();
        let mut out_lines = out.lines();
        for line in text.lines() {
            assert!(
                out_lines.any(|l| squash(l) == squash(line)),
                "input line {line:?} lost or reordered\n--- in\n{text}\n--- out\n{out}"
            );
        }
    }

    let twice = configure(path, &out, handler, Path::new(BIN), Path::new(ROOT)).expect("configure accepts its own output");
    assert_eq!(twice, out, "configure is not idempotent");
});

/// Every non-table value by its dotted path, minus the handler's table.
/// Values are compared by their `Debug` text, so that `nan` equals `nan`.
fn leaves(t: &toml::Table, cri: &str, handler: &str) -> BTreeMap<String, String> {
    fn walk(prefix: &mut Vec<String>, t: &toml::Table, cri: &str, handler: &str, out: &mut BTreeMap<String, String>) {
        for (k, v) in t {
            prefix.push(k.clone());
            let is_handler = prefix.len() == 5
                && prefix[..4] == ["plugins", cri, "containerd", "runtimes"].map(String::from)
                && k == handler;
            if !is_handler {
                match v {
                    toml::Value::Table(child) => walk(prefix, child, cri, handler, out),
                    other => {
                        out.insert(format!("{prefix:?}"), format!("{other:?}"));
                    }
                }
            }
            prefix.pop();
        }
    }
    let mut out = BTreeMap::new();
    walk(&mut Vec::new(), t, cri, handler, &mut out);
    out
}
