//! `isola install` on real files in temporary directories: what it writes, what it keeps, what it
//! refuses, and that a second run is a no-op.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use isola_node::install::{configure, install, InstallError, InstallOptions, Outcome, Shim};

const COMMENTED: &str = r#"# Managed by the node image. Do not reorder.
version = 2
root = "/var/lib/containerd"   # keep on the big disk

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]
  # CRI settings
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"   # the default
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = true
"#;

fn opts(path: &Path) -> InstallOptions {
    InstallOptions { config_path: path.to_owned(), ..InstallOptions::new("/usr/local/bin/isola") }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// The handler's settings, read back through a plain TOML parser.
fn handler_settings(text: &str, handler: &str) -> toml::Table {
    let doc: toml::Table = toml::from_str(text).unwrap();
    doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"][handler].as_table().unwrap().clone()
}

/// The handler as `install` writes it with the default options.
fn assert_default_handler(h: &toml::Table) {
    assert_eq!(h["runtime_type"].as_str(), Some("io.containerd.runc.v2"));
    assert_eq!(strings(&h["pod_annotations"]), ["module.wasm.image/*", "run.oci.handler", "io.isola.*"]);
    assert_eq!(strings(&h["container_annotations"]), ["module.wasm.image/*", "run.oci.handler", "io.isola.*"]);
    assert_eq!(h["options"]["BinaryName"].as_str(), Some("/usr/local/bin/isola"));
    assert_eq!(h["options"]["Root"].as_str(), Some("/run/isola"));
}

fn strings(v: &toml::Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

#[test]
fn missing_or_empty_file_becomes_a_version_2_config_with_only_the_handler() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("etc/containerd/config.toml");
    let report = install(&opts(&missing)).unwrap();
    assert_eq!(report.outcome, Outcome::Written { backup: None });
    let text = std::fs::read_to_string(&missing).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(doc["version"].as_integer(), Some(2));
    assert_eq!(doc.len(), 2, "version and plugins only: {text}");
    let h = handler_settings(&text, "isola");
    assert_default_handler(&h);
    assert_eq!(std::fs::metadata(&missing).unwrap().permissions().mode() & 0o777, 0o644);

    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    install(&opts(&empty)).unwrap();
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), text);
}

#[test]
fn existing_config_keeps_every_byte_outside_the_new_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, COMMENTED).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let report = install(&opts(&path)).unwrap();
    let backup = dir.path().join("config.toml.isola-backup");
    assert_eq!(report.outcome, Outcome::Written { backup: Some(backup.clone()) });
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), COMMENTED);

    let text = std::fs::read_to_string(&path).unwrap();
    // Only insertions, and all of them are the isola tables.
    let diff = similar::TextDiff::from_lines(COMMENTED, text.as_str());
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Delete => panic!("deleted {:?}", change.value()),
            similar::ChangeTag::Insert => {
                let line = change.value().trim();
                let ours = line.is_empty()
                    || line.starts_with("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.isola")
                    || ["runtime_type", "pod_annotations", "container_annotations", "BinaryName", "Root", "SystemdCgroup"]
                        .iter()
                        .any(|k| line.starts_with(k));
                assert!(ours, "inserted a foreign line {line:?}");
            }
            similar::ChangeTag::Equal => {}
        }
    }
    assert!(text.starts_with(COMMENTED), "the new tables go after the existing text");
    // The runc handler's systemd cgroup driver is mirrored, so both agree with the kubelet.
    assert_eq!(handler_settings(&text, "isola")["options"]["SystemdCgroup"].as_bool(), Some(true));
    assert_eq!(handler_settings(&text, "runc")["runtime_type"].as_str(), Some("io.containerd.runc.v2"));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "mode kept");
    assert_eq!(files_in(dir.path()), ["config.toml", "config.toml.isola-backup"], "no temporary file left");
}

#[test]
fn second_run_changes_nothing_and_makes_no_new_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, COMMENTED).unwrap();
    install(&opts(&path)).unwrap();
    let once = std::fs::read_to_string(&path).unwrap();
    let report = install(&opts(&path)).unwrap();
    assert_eq!(report.outcome, Outcome::Unchanged);
    assert!(report.to_string().contains("nothing changed"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), once);
    assert_eq!(files_in(dir.path()), ["config.toml", "config.toml.isola-backup"]);
}

#[test]
fn dry_run_prints_a_unified_diff_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, COMMENTED).unwrap();
    let report = install(&InstallOptions { dry_run: true, ..opts(&path) }).unwrap();
    let Outcome::DryRun { diff } = &report.outcome else { panic!("{:?}", report.outcome) };
    assert!(diff.contains("+++ "), "{diff}");
    assert!(diff.contains("+[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.isola]"), "{diff}");
    assert!(diff.contains("+BinaryName = \"/usr/local/bin/isola\""), "{diff}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), COMMENTED);
    assert_eq!(files_in(dir.path()), ["config.toml"]);

    let missing = dir.path().join("nowhere/config.toml");
    install(&InstallOptions { dry_run: true, ..opts(&missing) }).unwrap();
    assert!(!missing.parent().unwrap().exists(), "dry run creates no directory");
}

#[test]
fn unparsable_and_version_1_configs_are_refused_untouched() {
    let cases = [
        ("version = 2\n[plugins\n", "cannot parse"),
        ("version = 1\n[plugins.cri]\n  sandbox_image = \"pause\"\n", "version = 1"),
        ("[plugins.cri.containerd]\n  snapshotter = \"overlayfs\"\n", "no `version` key"),
        ("version = 4\n", "unexpected `version = 4`"),
        ("version = \"2\"\n", "unexpected"),
        ("version = 2\nplugins = 3\n", "`plugins` is not a [table]"),
        (
            "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nruntimes = { runc = { runtime_type = \"x\" } }\n",
            "runtimes` is not a [table]",
        ),
        ("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]\nisola = \"x\"\n", "isola` is not a [table]"),
    ];
    for (text, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        let err: InstallError = install(&opts(&path)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(expect), "{text:?}: {msg:?} should mention {expect:?}");
        assert!(msg.contains("config.toml") && !msg.contains('\n'), "one line naming the file: {msg:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "untouched");
        assert_eq!(files_in(dir.path()), ["config.toml"], "no backup, no temporary file");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, b"version = 2\n\xff\xfe\n").unwrap();
    assert!(install(&opts(&path)).unwrap_err().to_string().contains("not UTF-8"));
}

#[test]
fn custom_handler_binary_and_root_are_written_and_updated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, COMMENTED).unwrap();
    let custom = InstallOptions {
        handler: "isola-wasm".into(),
        binary: PathBuf::from("/opt/isola/bin/isola"),
        runtime_root: PathBuf::from("/run/isola-wasm"),
        ..opts(&path)
    };
    install(&custom).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let h = handler_settings(&text, "isola-wasm");
    assert_eq!(h["options"]["BinaryName"].as_str(), Some("/opt/isola/bin/isola"));
    assert_eq!(h["options"]["Root"].as_str(), Some("/run/isola-wasm"));

    // A new binary path is changed where it stands; the first backup is never overwritten.
    let moved = InstallOptions { binary: PathBuf::from("/usr/bin/isola"), ..custom.clone() };
    let report = install(&moved).unwrap();
    let Outcome::Written { backup: Some(second) } = report.outcome else { panic!("{:?}", report.outcome) };
    assert!(second.file_name().unwrap().to_str().unwrap().starts_with("config.toml.isola-backup."), "{second:?}");
    assert_eq!(std::fs::read_to_string(dir.path().join("config.toml.isola-backup")).unwrap(), COMMENTED);
    assert_eq!(std::fs::read_to_string(&second).unwrap(), text);
    let updated = std::fs::read_to_string(&path).unwrap();
    assert_eq!(updated, text.replace("/opt/isola/bin/isola", "/usr/bin/isola"));
}

#[test]
fn bad_options_are_refused_before_reading_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    for (o, expect) in [
        (InstallOptions { handler: "Isola".into(), ..opts(&path) }, "--handler"),
        (InstallOptions { handler: "a.b".into(), ..opts(&path) }, "--handler"),
        (InstallOptions { binary: "isola".into(), ..opts(&path) }, "--binary"),
        (InstallOptions { runtime_root: "run/isola".into(), ..opts(&path) }, "--runtime-root"),
    ] {
        let msg = install(&o).unwrap_err().to_string();
        assert!(msg.contains(expect), "{msg}");
    }
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn a_symlinked_config_is_edited_through_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.toml");
    let link = dir.path().join("config.toml");
    std::fs::write(&real, "version = 2\n").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    install(&opts(&link)).unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&real).unwrap().contains("runtimes.isola]"));
}

#[test]
fn configure_is_pure_and_idempotent() {
    let p = Path::new("config.toml");
    let bin = Path::new("/usr/local/bin/isola");
    let root = Path::new("/run/isola");
    let once = configure(p, COMMENTED, "isola", bin, root).unwrap();
    assert_eq!(configure(p, &once, "isola", bin, root).unwrap(), once);
    let two = configure(p, &once, "isola-2", bin, root).unwrap();
    assert!(two.starts_with(&once));
}

/// `containerd config dump` of COMMENTED after an install with `change` applied to the
/// defaults; None (and says so) when containerd is not installed.
fn containerd_dump_after(change: impl FnOnce(InstallOptions) -> InstallOptions) -> Option<String> {
    let on_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("containerd").is_file()));
    if !on_path {
        eprintln!("skipped: containerd not on PATH");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, COMMENTED).unwrap();
    install(&change(opts(&path))).unwrap();
    let out = Command::new("containerd").arg("--config").arg(&path).args(["config", "dump"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn containerd_accepts_the_written_config() {
    let Some(dump) = containerd_dump_after(|o| o) else { return };
    let h = handler_settings(&dump, "isola");
    assert_eq!(h["runtime_type"].as_str(), Some("io.containerd.runc.v2"));
    assert_eq!(h["options"]["BinaryName"].as_str(), Some("/usr/local/bin/isola"));
    assert_eq!(strings(&h["pod_annotations"]), ["module.wasm.image/*", "run.oci.handler", "io.isola.*"]);
}

/// containerd 2.x's config (`version = 3`), as `containerd config default` of containerd 2.0
/// lays it out (single-quoted keys, the CRI runtimes under `io.containerd.cri.v1.runtime`),
/// abridged. containerd 2.x is not installable from Debian 12 here, so the schema is the
/// documented one (containerd's docs/cri/config.md for 2.x), not a running daemon's.
const CONTAINERD_2: &str = r#"version = 3
root = '/var/lib/containerd'
state = '/run/containerd'

[grpc]
  address = '/run/containerd/containerd.sock'

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'   # keep
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10'

  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes]
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
          runtime_type = 'io.containerd.runc.v2'
          [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
            BinaryName = ''
            SystemdCgroup = true
"#;

/// The handler's settings in a version 3 config.
fn handler_settings_v3(text: &str, handler: &str) -> toml::Table {
    let doc: toml::Table = toml::from_str(text).unwrap();
    doc["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"][handler].as_table().unwrap().clone()
}

#[test]
fn a_containerd_2_config_gets_the_handler_in_its_cri_runtime_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, CONTAINERD_2).unwrap();
    let report = install(&opts(&path)).unwrap();
    assert!(matches!(report.outcome, Outcome::Written { backup: Some(_) }), "{:?}", report.outcome);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(CONTAINERD_2), "every byte of the old config kept, the handler after it:\n{text}");
    let h = handler_settings_v3(&text, "isola");
    assert_default_handler(&h);
    assert_eq!(h["options"]["SystemdCgroup"].as_bool(), Some(true), "the runc handler's cgroup driver, mirrored");
    let doc: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(doc["version"].as_integer(), Some(3), "still a version 3 config");
    assert!(doc["plugins"].get("io.containerd.grpc.v1.cri").is_none(), "no containerd 1.x table added: {text}");

    // Idempotent, and the dry run of a second install shows nothing to do.
    assert_eq!(install(&opts(&path)).unwrap().outcome, Outcome::Unchanged);
    let again = install(&InstallOptions { dry_run: true, ..opts(&path) }).unwrap();
    assert_eq!(again.outcome, Outcome::DryRun { diff: String::new() });
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn a_containerd_2_config_with_the_handler_half_there_is_completed_in_place() {
    let text = format!(
        "{CONTAINERD_2}        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.isola]\n          runtime_type = 'io.containerd.runc.v2'   # ours\n"
    );
    let out = configure(Path::new("config.toml"), &text, "isola", Path::new("/opt/isola/bin/isola"), Path::new("/run/isola")).unwrap();
    assert!(out.contains("runtime_type = 'io.containerd.runc.v2'   # ours"), "the existing line and its comment kept: {out}");
    let h = handler_settings_v3(&out, "isola");
    assert_eq!(h["options"]["BinaryName"].as_str(), Some("/opt/isola/bin/isola"));
    assert_eq!(configure(Path::new("config.toml"), &out, "isola", Path::new("/opt/isola/bin/isola"), Path::new("/run/isola")).unwrap(), out);
}

/// `--shim`: the handler runs isola's own shim, found through `runtime_path`, with no
/// `BinaryName` (the shim refuses unknown options); switching kinds drops the other kind's key.
#[test]
fn the_shim_handler_names_isolas_shim_and_switches_both_ways() {
    let shim = Path::new("/usr/local/bin/containerd-shim-isola-v1");
    let (bin, root) = (Path::new("/usr/local/bin/isola"), Path::new("/run/isola"));
    for (config, settings) in [(COMMENTED, handler_settings as fn(&str, &str) -> toml::Table), (CONTAINERD_2, handler_settings_v3)] {
        let p = Path::new("config.toml");
        let out = isola_node::install::configure_shim(p, config, "isola", Shim::Isola, shim, root).unwrap();
        assert!(out.starts_with(config), "every byte of the old config kept:\n{out}");
        let h = settings(&out, "isola");
        assert_eq!(h["runtime_type"].as_str(), Some("io.containerd.isola.v1"));
        assert_eq!(h["runtime_path"].as_str(), Some(shim.to_str().unwrap()));
        assert_eq!(h["options"]["Root"].as_str(), Some("/run/isola"));
        assert!(h["options"].get("BinaryName").is_none(), "{out}");
        assert_eq!(strings(&h["pod_annotations"]), ["module.wasm.image/*", "run.oci.handler", "io.isola.*"]);
        assert_eq!(isola_node::install::configure_shim(p, &out, "isola", Shim::Isola, shim, root).unwrap(), out, "idempotent");

        // To the runc shim and back: each kind's keys only.
        let runc = configure(p, &out, "isola", bin, root).unwrap();
        let h = settings(&runc, "isola");
        assert_eq!(h["runtime_type"].as_str(), Some("io.containerd.runc.v2"));
        assert!(h.get("runtime_path").is_none(), "{runc}");
        assert_eq!(h["options"]["BinaryName"].as_str(), Some("/usr/local/bin/isola"));
        let back = isola_node::install::configure_shim(p, &runc, "isola", Shim::Isola, shim, root).unwrap();
        assert_eq!(settings(&back, "isola"), settings(&out, "isola"));
    }
}

/// containerd loads the shim handler (`runtime_path` is a CRI runtime key since 1.6).
#[test]
fn containerd_accepts_the_shim_handler() {
    let shim = PathBuf::from("/usr/local/bin/containerd-shim-isola-v1");
    let Some(dump) = containerd_dump_after(|o| InstallOptions { shim: Shim::Isola, binary: shim, ..o }) else { return };
    let h = handler_settings(&dump, "isola");
    assert_eq!(h["runtime_type"].as_str(), Some("io.containerd.isola.v1"));
    assert_eq!(h["runtime_path"].as_str(), Some("/usr/local/bin/containerd-shim-isola-v1"), "containerd 1.6 keeps runtime_path");
}
