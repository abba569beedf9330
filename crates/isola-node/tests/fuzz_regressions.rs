//! Inputs the fuzz targets (fuzz/fuzz_targets/install.rs, image.rs) found breaking a property of
//! isola-node, pinned as ordinary tests. Each names the property it broke.

use std::path::Path;

use isola_node::install::{configure, InstallError};

/// fuzz/install: a `version` that is a table (or a multi-line string) was echoed verbatim into
/// the refusal, so the one-line error `isola install` prints spanned several lines.
#[test]
fn a_version_table_is_refused_with_a_one_line_error() {
    let inputs = [
        // The fuzzer's input, as found.
        "# Managed by the node im= \"/run/containerd/co.sock\"\n\n[version]\n  # CRI setting1s.runc.options]\n          SystemdCgroup = true\n",
        "version = \"\"\"\n2\n\"\"\"\n",
        "version = [\n  2,\n]\n",
    ];
    for text in inputs {
        let err = configure(Path::new("config.toml"), text, "isola", Path::new("/usr/local/bin/isola"), Path::new("/run/isola"))
            .unwrap_err();
        assert!(matches!(err, InstallError::Version { .. }), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

/// fuzz/install: root-level dotted keys that share a prefix, with another key between them, came
/// back regrouped (toml_edit re-renders such a root table when it writes the document): same
/// values, but input lines moved, against "every byte outside isola's tables is kept".
#[test]
fn a_new_handler_keeps_every_input_line_in_place() {
    let inputs = [
        // The fuzzer's input, as found (its first byte, the handler selector, dropped).
        "version = 3\n\
         rooegins.          BinaryName = ''\n\
         io.optionon = 3\n\
         rooegins.   io.optionscontainerd.cri.v1.   Sysscontainerd.crv1.   Sysscontainerd.cri.v1.   SystemdCgroup = true\n",
        "version = 2\na.x = 1\nb = 2\na.y = 3\n",
        "version = 2\na.x = 1\nb = 2\na.y = 3",
    ];
    for text in inputs {
        let out = configure(Path::new("config.toml"), text, "isola", Path::new("/usr/local/bin/isola"), Path::new("/run/isola"))
            .unwrap();
        assert!(out.starts_with(text.trim_end()), "input not kept as it was\n--- in\n{text}\n--- out\n{out}");
        let before: toml::Table = toml::from_str(text).unwrap();
        let after: toml::Table = toml::from_str(&out).unwrap();
        for (k, v) in &before {
            if k != "plugins" {
                assert_eq!(after.get(k), Some(v), "{k} changed");
            }
        }
        let again = configure(Path::new("config.toml"), &out, "isola", Path::new("/usr/local/bin/isola"), Path::new("/run/isola"))
            .unwrap();
        assert_eq!(again, out, "not idempotent");
    }
}
