//! isola on a Kubernetes node: packaging a wasm module or a static binary as an OCI image
//! (`image`), and wiring the `isola` runtime handler into containerd's config (`install`).

pub mod image;
pub mod install;

use std::path::Path;

/// Reads a file a node operator named, refusing anything but a regular file of at most `max`
/// bytes. Opened non-blocking, so a FIFO cannot hang the open and a device such as /dev/zero
/// is refused instead of read without end.
pub(crate) fn read_regular_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file (a directory, FIFO, socket or device)"));
    }
    if meta.len() > max {
        return Err(std::io::Error::other(format!("{} bytes is larger than the {max}-byte limit", meta.len())));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!("grew past the {max}-byte limit while being read")));
    }
    Ok(bytes)
}
