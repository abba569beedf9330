//! FALLBACK(issue 6): stand-ins for `isola install` and `isola image` until they land in
//! isola-cli. REMOVE this file, its `mod`, the isola-node dependency and both call sites.

use anyhow::Result;
use std::path::Path;

pub fn is_missing_subcommand(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).contains("unrecognized subcommand")
}

pub fn install(config: &Path, isola: &Path, runtime_root: &Path) -> Result<()> {
    let mut text = std::fs::read_to_string(config)?;
    text.push_str(&format!(
        r#"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.isola]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ["module.wasm.image/*", "run.oci.handler", "io.isola.*"]
  container_annotations = ["module.wasm.image/*", "run.oci.handler", "io.isola.*"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.isola.options]
    BinaryName = "{}"
    Root = "{}"
"#,
        isola.display(),
        runtime_root.display()
    ));
    std::fs::write(config, text)?;
    Ok(())
}

fn sha256_file(p: &Path) -> Result<(String, u64)> {
    use sha2::Digest;
    let data = std::fs::read(p)?;
    Ok((sha2::Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect(), data.len() as u64))
}

fn sh(cmd: &mut std::process::Command) -> Result<()> {
    let out = cmd.output()?;
    anyhow::ensure!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// A one-file OCI image-layout tar (what `isola image` will make), built with tar and gzip.
pub fn image(file: &Path, reference: &str, out: &Path) -> Result<()> {
    use std::process::Command;
    let bytes = std::fs::read(file)?;
    let wasm = bytes.starts_with(b"\0asm");
    let (os, arch) = if wasm { ("wasi", "wasm") } else { ("linux", "amd64") };
    let base = file.file_name().unwrap().to_string_lossy().to_string();
    let work = out.with_extension("work");
    let blobs = work.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let layer_tar = work.join("layer.tar");
    sh(Command::new("tar").arg("-C").arg(file.parent().unwrap()).args(["--owner=0", "--group=0", "-cf"]).arg(&layer_tar).arg(&base))?;
    let (diff_id, _) = sha256_file(&layer_tar)?;
    sh(Command::new("gzip").args(["-n", "-f"]).arg(&layer_tar))?;
    let gz = work.join("layer.tar.gz");
    let (layer_digest, layer_size) = sha256_file(&gz)?;
    std::fs::rename(&gz, blobs.join(&layer_digest))?;
    let put = |data: String| -> Result<(String, u64)> {
        let tmp = work.join("blob");
        std::fs::write(&tmp, data)?;
        let (d, n) = sha256_file(&tmp)?;
        std::fs::rename(&tmp, blobs.join(&d))?;
        Ok((d, n))
    };
    let config = serde_json::json!({"architecture": arch, "os": os,
        "config": {"Entrypoint": [format!("/{base}")], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]}});
    let (cd, cn) = put(config.to_string())?;
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{cd}"), "size": cn},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{layer_digest}"), "size": layer_size}]});
    let (md, mn) = put(manifest.to_string())?;
    let tag = reference.rsplit(':').next().unwrap_or("latest");
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{md}"), "size": mn, "platform": {"os": os, "architecture": arch},
        "annotations": {"io.containerd.image.name": reference, "org.opencontainers.image.ref.name": tag}}]});
    std::fs::write(work.join("index.json"), index.to_string())?;
    std::fs::write(work.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    sh(Command::new("tar").arg("-C").arg(&work).args(["-cf"]).arg(out).args(["oci-layout", "index.json", "blobs"]))?;
    std::fs::remove_dir_all(&work)?;
    Ok(())
}
