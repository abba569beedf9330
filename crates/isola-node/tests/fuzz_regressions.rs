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
