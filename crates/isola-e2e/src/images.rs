//! Images of the suite: each payload becomes a one-file OCI image-layout tar through
//! `isola image`, imported into containerd with `ctr images import --all-platforms`.

use anyhow::{bail, Context, Result};
use crate::containerd::Layout;
use std::path::Path;
use std::process::Command;

/// Builds `OUT.tar` from one file with `isola image FILE --name REF --output OUT.tar`.
pub fn build(isola: &Path, file: &Path, reference: &str, out_tar: &Path) -> Result<()> {
    let output = Command::new(isola)
        .arg("image")
        .arg(file)
        .args(["--name", reference])
        .arg("--output")
        .arg(out_tar)
        .output()
        .with_context(|| format!("running {} image", isola.display()))?;
    if !output.status.success() {
        bail!(
            "`isola image {} --name {reference}` failed: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Imports an image-layout tar into `namespace` of the suite's containerd.
pub fn import(layout: &Layout, namespace: &str, tar: &Path) -> Result<()> {
    let output = layout
        .ctr(namespace)
        .args(["images", "import", "--all-platforms"])
        .arg(tar)
        .output()
        .context("running ctr (install containerd: scripts/setup.sh)")?;
    if !output.status.success() {
        bail!(
            "ctr images import {} failed: {}{}",
            tar.display(),
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
