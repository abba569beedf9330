//! Hostile input: each bad bundle, id or command gets one clear error line naming the fault,
//! a non-zero exit, and leaves no state, cgroup, mount or process behind.

mod common;

use common::*;

/// Runs `args`, expects failure with exactly one stderr line containing every `words`.
fn refused(w: &World, args: &[&str], words: &[&str]) {
    w.refused(&format!("{args:?}"), args, words);
}

#[test]
fn missing_bundle_is_refused() {
    let w = World::new("nobundle");
    let id = w.id("nb");
    refused(&w, &["create", "--bundle", "/nonexistent/bundle", &id], &[&id, "/nonexistent/bundle", "No such file"]);
    w.assert_no_leftovers(&id);
}

#[test]
fn malformed_and_wrongly_typed_config_are_refused() {
    let w = World::new("badjson");
    let bundle = w.bundle("b", &["true"], |_| {});
    for (text, word) in [("{ not json", "config.json"), (r#"{"ociVersion": "1.0.2", "process": "x"}"#, "Process"), (r#"{"ociVersion": 5}"#, "config.json")] {
        std::fs::write(bundle.join("config.json"), text).unwrap();
        let id = w.id("bj");
        refused(&w, &["create", "--bundle", bundle.to_str().unwrap(), &id], &[&id, word]);
        w.assert_no_leftovers(&id);
    }
}

#[test]
fn ids_that_escape_or_hold_a_slash_are_refused() {
    let w = World::new("badid");
    let bundle = w.bundle("b", &["true"], |_| {});
    for id in ["../x", "a/b", "..", ".hidden"] {
        refused(&w, &["create", "--bundle", bundle.to_str().unwrap(), id], &["invalid container id"]);
    }
    assert!(w.containers().is_empty());
    assert!(!w.root.parent().unwrap().join("x").exists());
}

#[test]
fn a_duplicate_id_is_refused_and_the_first_container_survives() {
    let w = World::new("dup");
    let id = w.id("dup");
    let bundle = w.bundle("b", &["sleep", "30"], |_| {});
    assert!(w.run(&["create", "--bundle", bundle.to_str().unwrap(), &id]).status.success());
    refused(&w, &["create", "--bundle", bundle.to_str().unwrap(), &id], &[&id, "already exists"]);
    assert_eq!(w.state(&id)["status"], "created");
    assert!(w.run(&["delete", "--force", &id]).status.success());
    w.assert_no_leftovers(&id);
}

#[test]
fn a_rootfs_linking_to_the_host_root_is_refused() {
    let w = World::new("rootlink");
    let id = w.id("rl");
    let bundle = w.bundle("b", &["true"], |c| c["root"]["path"] = "hostroot".into());
    std::os::unix::fs::symlink("/", bundle.join("hostroot")).unwrap();
    refused(&w, &["create", "--bundle", bundle.to_str().unwrap(), &id], &[&id, "host's /"]);
    w.assert_no_leftovers(&id);
}

#[test]
fn an_unknown_command_is_refused() {
    let w = World::new("unknown");
    refused(&w, &["frobnicate", "x"], &["frobnicate"]);
}

#[test]
fn a_privileged_spec_is_refused() {
    let w = World::new("priv");
    let id = w.id("priv");
    let bundle = w.bundle("b", &["true"], |c| {
        c["process"]["capabilities"]["bounding"] = serde_json::json!(["CAP_SYS_ADMIN"]);
    });
    refused(&w, &["create", "--bundle", bundle.to_str().unwrap(), &id], &[&id, "privileged", "CAP_SYS_ADMIN"]);
    w.assert_no_leftovers(&id);
}

#[test]
fn a_capability_missing_from_the_bounding_set_is_named() {
    let w = World::new("nocap");
    let id = w.id("nocap");
    let policy = w.scratch.join("policy.toml");
    std::fs::write(&policy, "capability-ceiling = [\"CAP_KILL\", \"CAP_SYS_RESOURCE\"]\n").unwrap();
    let has_sys_resource = std::fs::read_to_string("/proc/self/status").unwrap().lines()
        .find_map(|l| l.strip_prefix("CapBnd:")).map(|h| u64::from_str_radix(h.trim(), 16).unwrap() & (1 << 24) != 0).unwrap();
    let bundle = w.bundle("b", &["true"], |c| {
        c["process"]["capabilities"]["bounding"] = serde_json::json!(["CAP_KILL", "CAP_SYS_RESOURCE"]);
    });
    let args = ["--config", policy.to_str().unwrap(), "run", "--bundle", bundle.to_str().unwrap(), &id];
    if has_sys_resource {
        assert!(w.run(&args).status.success());
    } else {
        refused(&w, &args, &[&id, "CAP_SYS_RESOURCE", "bounding set"]);
    }
    w.assert_no_leftovers(&id);
}

#[test]
fn a_bad_node_policy_is_refused() {
    let w = World::new("badpolicy");
    let policy = w.scratch.join("policy.toml");
    std::fs::write(&policy, "allow-privilegd = true\n").unwrap();
    refused(&w, &["--config", policy.to_str().unwrap(), "list"], &["node policy", "allow-privilegd"]);
}

#[test]
fn a_missing_executable_fails_create_without_leftovers() {
    let w = World::new("noexe");
    let id = w.id("noexe");
    let bundle = w.bundle("b", &["/bin/does-not-exist"], |_| {});
    let out = w.run(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    w.assert_no_leftovers(&id);
}

#[test]
fn systemd_cgroup_without_systemd_is_one_clear_error() {
    if std::path::Path::new("/run/systemd/system").exists() {
        return; // a host with systemd can use the flag; nothing to refuse
    }
    let w = World::new("systemd");
    refused(&w, &["--systemd-cgroup", "list"], &["systemd is not running"]);
}

/// A spec without `process.capabilities` (or with only a bounding set) gets no capabilities
/// under the default node policy: it used to run with every capability of the host,
/// CAP_SYS_ADMIN included, because libcontainer leaves a set the spec omits as the runtime's.
#[test]
fn a_spec_without_capabilities_gets_none() {
    let w = World::new("no-caps");
    let script = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status";
    for (name, edit) in [
        ("absent", Box::new(|c: &mut serde_json::Value| {
            c["process"].as_object_mut().unwrap().remove("capabilities");
        }) as Box<dyn Fn(&mut serde_json::Value)>),
        ("bounding-only", Box::new(|c: &mut serde_json::Value| c["process"]["capabilities"] = serde_json::json!({"bounding": ["CAP_KILL"]}))),
    ] {
        let bundle = w.bundle(name, &["sh", "-c", script], |c| edit(c));
        let id = w.id(name);
        let out = w.run(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
        assert!(out.status.success(), "{name}: {}", stderr_of(&out));
        let report = stdout_of(&out);
        for line in report.lines().filter(|l| !l.starts_with("CapBnd")) {
            assert!(line.ends_with("0000000000000000"), "{name}: the workload holds capabilities: {report}");
        }
        let bounding = report.lines().find(|l| l.starts_with("CapBnd")).unwrap();
        let expected = if name == "absent" { "0000000000000000" } else { "0000000000000020" };
        assert!(bounding.ends_with(expected), "{name}: {report}");
        w.assert_clean(&id);
    }
}
