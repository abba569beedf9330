//! Packages one `.wasm` (core module or component) or one static native ELF binary as a single-layer
//! OCI image-layout tar that `ctr images import` and `podman load` accept. Same input, same bytes.
//! It must never write a partial archive: the tar is built in a temporary file and renamed into place.
//!
//! ```no_run
//! use isola_node::image::{build_image, ImageRequest};
//! let req = ImageRequest::new("hello.wasm", "docker.io/library/hello:1.0", "hello.tar");
//! let built = build_image(&req).unwrap();
//! println!("{} {}", built.platform, built.manifest_digest);
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType,
    OciLayoutBuilder, Os, PlatformBuilder, RootFsBuilder, Sha256Digest,
};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// Annotation (on the manifest) and label (on the config) that mark an image as wasm for
/// crun-compatible runtimes; `compat-smart` lets Linux sidecars share the pod.
pub const WASM_VARIANT_KEY: &str = "module.wasm.image/variant";
pub const WASM_VARIANT: &str = "compat-smart";
/// Index annotation containerd's importer names the image by.
pub const CONTAINERD_NAME_KEY: &str = "io.containerd.image.name";
pub const REF_NAME_KEY: &str = "org.opencontainers.image.ref.name";

/// Fixed metadata in every tar header: the output depends only on the input.
const MTIME: u64 = 0;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {cause}")]
    Read { path: PathBuf, cause: std::io::Error },
    #[error("{path}: not a wasm module (\\0asm) nor an ELF executable; isola image packages only those")]
    UnknownFormat { path: PathBuf },
    #[error("{path}: {reason}")]
    UnsupportedElf { path: PathBuf, reason: String },
    #[error("{path}: file name must be plain UTF-8 without '/' or control characters")]
    BadFileName { path: PathBuf },
    #[error("image name {name:?}: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("argument {arg:?}: arguments must not contain NUL")]
    BadArg { arg: String },
    #[error("output {path}: {cause}")]
    Write { path: PathBuf, cause: std::io::Error },
    #[error("output {path}: is the input file; choose another --output")]
    OutputIsInput { path: PathBuf },
    #[error("building the OCI metadata: {0}")]
    Spec(String),
}

/// What `isola image` was asked for.
#[derive(Debug, Clone)]
pub struct ImageRequest {
    pub file: PathBuf,
    pub name: String,
    pub output: PathBuf,
    /// Appended to the entrypoint after `/<basename>`.
    pub args: Vec<String>,
}

impl ImageRequest {
    pub fn new(file: impl Into<PathBuf>, name: impl Into<String>, output: impl Into<PathBuf>) -> Self {
        ImageRequest { file: file.into(), name: name.into(), output: output.into(), args: Vec::new() }
    }
}

/// The platform an image runs on, read from the payload's magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    Wasm,
    Elf(ElfArch),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfArch {
    Amd64,
    Arm64,
}

impl Payload {
    pub fn os(self) -> &'static str {
        match self {
            Payload::Wasm => "wasi",
            Payload::Elf(_) => "linux",
        }
    }
    pub fn arch(self) -> &'static str {
        match self {
            Payload::Wasm => "wasm",
            Payload::Elf(ElfArch::Amd64) => "amd64",
            Payload::Elf(ElfArch::Arm64) => "arm64",
        }
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os(), self.arch())
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub platform: Payload,
    pub manifest_digest: String,
    pub entrypoint: Vec<String>,
    pub output: PathBuf,
}

/// Reads the magic and, for ELF, checks that the binary can run alone in a one-file image:
/// a 64-bit little-endian executable for amd64 or arm64 without a program interpreter.
pub fn detect(path: &Path, bytes: &[u8]) -> Result<Payload, ImageError> {
    if bytes.starts_with(b"\0asm") {
        return Ok(Payload::Wasm);
    }
    if !bytes.starts_with(b"\x7fELF") {
        return Err(ImageError::UnknownFormat { path: path.to_owned() });
    }
    let bad = |reason: &str| ImageError::UnsupportedElf { path: path.to_owned(), reason: reason.to_owned() };
    let u16_at = |o: usize| bytes.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u64_at = |o: usize| bytes.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return Err(bad("only 64-bit little-endian ELF executables are supported"));
    }
    let arch = match u16_at(18) {
        Some(0x3e) => ElfArch::Amd64,
        Some(0xb7) => ElfArch::Arm64,
        _ => return Err(bad("ELF machine is neither x86-64 nor aarch64")),
    };
    match u16_at(16) {
        Some(2) | Some(3) => {}
        _ => return Err(bad("ELF file is not an executable (a relocatable object or core file?)")),
    }
    // Program headers: a PT_INTERP entry means a dynamic loader the one-file image does not hold.
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(32), u16_at(54), u16_at(56)) else {
        return Err(bad("truncated ELF header"));
    };
    if phentsize < 56 {
        return Err(bad("malformed ELF program header size"));
    }
    for i in 0..u64::from(phnum) {
        let off = phoff
            .checked_add(i * u64::from(phentsize))
            .and_then(|o| usize::try_from(o).ok())
            .filter(|o| o.checked_add(4).is_some_and(|end| end <= bytes.len()))
            .ok_or_else(|| bad("truncated ELF program headers"))?;
        if bytes[off..off + 4] == 3u32.to_le_bytes() {
            return Err(bad("dynamically linked (it names a program interpreter); build it with -static"));
        }
    }
    Ok(Payload::Elf(arch))
}

/// The tag of a reference (`latest` when it has none), after checking the reference's shape:
/// `[host[:port]/]path[:tag]` with lowercase path components, as containerd and podman expect.
pub fn tag_of(name: &str) -> Result<String, ImageError> {
    let bad = |reason| ImageError::BadName { name: name.to_owned(), reason };
    if name.is_empty() || name.len() > 255 {
        return Err(bad("must be 1 to 255 characters"));
    }
    if name.contains('@') {
        return Err(bad("digest references cannot name a new image; use name:tag"));
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    let mut parts: Vec<&str> = repo.split('/').collect();
    // A first component with a '.' or ':' or equal to "localhost" is a registry host.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':')) {
            return Err(bad("registry host may hold only letters, digits, '.', '-' and ':port'"));
        }
    }
    for part in parts {
        let ok = !part.is_empty()
            && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(bad(
                "path components must be lowercase letters, digits and separators (._-), e.g. example.com/team/hello:1.0",
            ));
        }
    }
    match tag {
        None => Ok("latest".to_owned()),
        Some(t) => {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
            if ok {
                Ok(t.to_owned())
            } else {
                Err(bad("tag must be 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'"))
            }
        }
    }
}

/// Builds the image and writes the archive to `req.output` (replacing it atomically).
pub fn build_image(req: &ImageRequest) -> Result<BuiltImage, ImageError> {
    let tag = tag_of(&req.name)?;
    if let Some(arg) = req.args.iter().find(|a| a.contains('\0')) {
        return Err(ImageError::BadArg { arg: arg.clone() });
    }
    let basename = req
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && n.len() <= 100 && !n.chars().any(|c| c.is_control()))
        .ok_or_else(|| ImageError::BadFileName { path: req.file.clone() })?
        .to_owned();
    let bytes = crate::read_regular_file(&req.file, MAX_INPUT_BYTES).map_err(|cause| ImageError::Read { path: req.file.clone(), cause })?;
    if same_file(&req.file, &req.output) {
        return Err(ImageError::OutputIsInput { path: req.output.clone() });
    }
    let payload = detect(&req.file, &bytes)?;
    let blobs = image_blobs(payload, &basename, &bytes, &req.args, &req.name, &tag)?;
    write_layout(&req.output, &blobs)?;
    let mut entrypoint = vec![format!("/{basename}")];
    entrypoint.extend(req.args.iter().cloned());
    Ok(BuiltImage { platform: payload, manifest_digest: blobs.manifest_digest, entrypoint, output: req.output.clone() })
}

/// Largest input packaged (1 GiB): the whole file is held in memory and compressed.
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => false,
    }
}

/// The files of the layout, content-addressed, before they are archived.
struct LayoutBlobs {
    oci_layout: Vec<u8>,
    index: Vec<u8>,
    /// (hex sha256, bytes), in a fixed order.
    blobs: Vec<(String, Vec<u8>)>,
    manifest_digest: String,
}

fn spec_err(e: impl fmt::Display) -> ImageError {
    ImageError::Spec(e.to_string())
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn descriptor(media_type: MediaType, data: &[u8]) -> Result<(Descriptor, String), ImageError> {
    let hex = sha256_hex(data);
    let digest: Sha256Digest = hex.parse().map_err(spec_err)?;
    Ok((Descriptor::new(media_type, data.len() as u64, digest), hex))
}

/// JSON with every object's keys sorted: oci-spec keeps annotations in HashMaps, whose order
/// would otherwise change the bytes (and the digests) from run to run.
fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ImageError> {
    let mut v = serde_json::to_value(value).map_err(spec_err)?;
    v.sort_all_objects();
    serde_json::to_vec(&v).map_err(spec_err)
}

fn header(path: &str, size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_size(size);
    // Names are short (checked above), so set_path cannot fail for them.
    let _ = h.set_path(path);
    h.set_cksum();
    h
}

/// The gzip-compressed layer: `/<basename>`, mode 0755, root-owned; and its uncompressed digest.
fn layer(basename: &str, bytes: &[u8]) -> Result<(Vec<u8>, String), ImageError> {
    let io = |source| ImageError::Spec(format!("building the layer: {source}"));
    let mut b = tar::Builder::new(Vec::new());
    let h = header(basename, bytes.len() as u64, 0o755, tar::EntryType::Regular);
    b.append(&h, bytes).map_err(io)?;
    let tar = b.into_inner().map_err(io)?;
    let diff_id = sha256_hex(&tar);
    // GzEncoder writes a header with mtime 0 and no file name: deterministic.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&tar).map_err(io)?;
    Ok((gz.finish().map_err(io)?, diff_id))
}

fn image_blobs(
    payload: Payload,
    basename: &str,
    bytes: &[u8],
    args: &[String],
    name: &str,
    tag: &str,
) -> Result<LayoutBlobs, ImageError> {
    let (layer_gz, diff_id) = layer(basename, bytes)?;
    let (layer_desc, layer_hex) = descriptor(MediaType::ImageLayerGzip, &layer_gz)?;

    let mut entrypoint = vec![format!("/{basename}")];
    entrypoint.extend(args.iter().cloned());
    let wasm_marker: HashMap<String, String> = match payload {
        Payload::Wasm => HashMap::from([(WASM_VARIANT_KEY.to_owned(), WASM_VARIANT.to_owned())]),
        Payload::Elf(_) => HashMap::new(),
    };
    let mut config = ConfigBuilder::default().entrypoint(entrypoint).working_dir("/".to_owned());
    if !wasm_marker.is_empty() {
        config = config.labels(wasm_marker.clone());
    }
    let os = Os::from(payload.os());
    let arch = Arch::from(payload.arch());
    let image_config = ImageConfigurationBuilder::default()
        .architecture(arch.clone())
        .os(os.clone())
        .config(config.build().map_err(spec_err)?)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers".to_owned())
                .diff_ids(vec![format!("sha256:{diff_id}")])
                .build()
                .map_err(spec_err)?,
        )
        .build()
        .map_err(spec_err)?;
    let config_json = canonical_json(&image_config)?;
    let (config_desc, config_hex) = descriptor(MediaType::ImageConfig, &config_json)?;

    let mut manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc)
        .layers(vec![layer_desc]);
    if !wasm_marker.is_empty() {
        manifest = manifest.annotations(wasm_marker);
    }
    let manifest_json = canonical_json(&manifest.build().map_err(spec_err)?)?;
    let (mut manifest_desc, manifest_hex) = descriptor(MediaType::ImageManifest, &manifest_json)?;
    manifest_desc.set_platform(Some(PlatformBuilder::default().os(os).architecture(arch).build().map_err(spec_err)?));
    manifest_desc.set_annotations(Some(HashMap::from([
        (CONTAINERD_NAME_KEY.to_owned(), name.to_owned()),
        (REF_NAME_KEY.to_owned(), tag.to_owned()),
    ])));

    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest_desc])
        .build()
        .map_err(spec_err)?;
    let oci_layout = OciLayoutBuilder::default().image_layout_version("1.0.0".to_owned()).build().map_err(spec_err)?;
    Ok(LayoutBlobs {
        oci_layout: canonical_json(&oci_layout)?,
        index: canonical_json(&index)?,
        blobs: vec![(manifest_hex.clone(), manifest_json), (config_hex, config_json), (layer_hex, layer_gz)],
        manifest_digest: format!("sha256:{manifest_hex}"),
    })
}

/// Archives the layout into a temporary file beside `output`, then renames it into place.
fn write_layout(output: &Path, layout: &LayoutBlobs) -> Result<(), ImageError> {
    let werr = |cause: std::io::Error| {
        // tempfile appends "at path <temp name>": a name the user never chose, so drop it.
        let text = cause.to_string();
        let text = text.split(" at path ").next().unwrap_or_default().to_owned();
        ImageError::Write { path: output.to_owned(), cause: std::io::Error::new(cause.kind(), text) }
    };
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new().prefix(".isola-image-").tempfile_in(dir).map_err(werr)?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(tmp.as_file()));
    let mut put = |path: &str, data: &[u8]| b.append(&header(path, data.len() as u64, 0o644, tar::EntryType::Regular), data);
    put("oci-layout", &layout.oci_layout).map_err(werr)?;
    put("index.json", &layout.index).map_err(werr)?;
    for dir_entry in ["blobs/", "blobs/sha256/"] {
        b.append(&header(dir_entry, 0, 0o755, tar::EntryType::Directory), std::io::empty()).map_err(werr)?;
    }
    for (hex, data) in &layout.blobs {
        let h = header(&format!("blobs/sha256/{hex}"), data.len() as u64, 0o644, tar::EntryType::Regular);
        b.append(&h, data.as_slice()).map_err(werr)?;
    }
    let mut w = b.into_inner().map_err(werr)?;
    w.flush().map_err(werr)?;
    drop(w);
    tmp.as_file().sync_all().map_err(werr)?;
    // Archives are not secret: readable by all, like any file `tar` would write.
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(werr)?;
    tmp.persist(output).map_err(|e| werr(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_tags_and_rejections() {
        assert_eq!(tag_of("hello").unwrap(), "latest");
        assert_eq!(tag_of("docker.io/library/hello:1.0").unwrap(), "1.0");
        assert_eq!(tag_of("localhost:5000/team/app_x:v2-rc.1").unwrap(), "v2-rc.1");
        for bad in ["", "Hello:1", "hello:", "a//b", "hello@sha256:00", "hello:-x", "he llo", "x/-y"] {
            assert!(tag_of(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn magic_decides_the_platform() {
        let p = Path::new("f");
        assert_eq!(detect(p, b"\0asm\x01\0\0\0").unwrap(), Payload::Wasm);
        // A component (wasi:cli/command) has the same magic and another version/layer word.
        assert_eq!(detect(p, b"\0asm\x0d\0\x01\0").unwrap(), Payload::Wasm);
        assert!(matches!(detect(p, b"#!/bin/sh\n"), Err(ImageError::UnknownFormat { .. })));
        assert!(matches!(detect(p, b""), Err(ImageError::UnknownFormat { .. })));
        // Truncated and hostile ELF headers are refused, never indexed out of bounds.
        assert!(detect(p, b"\x7fELF").is_err());
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[16] = 2;
        elf[18] = 0x3e;
        elf[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        elf[54] = 56;
        elf[56] = 1;
        assert!(detect(p, &elf).is_err());
        elf[32..40].copy_from_slice(&0u64.to_le_bytes());
        elf[56] = 0;
        assert_eq!(detect(p, &elf).unwrap(), Payload::Elf(ElfArch::Amd64));
    }
}
