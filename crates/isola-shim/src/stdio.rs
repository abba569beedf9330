//! The streams containerd gives a task: paths of fifos it reads (stdout, stderr) and writes
//! (stdin), or empty for none. They are opened here and handed to the process as they are: no
//! copy threads, so an idle pod costs the shim nothing per stream (a task with a terminal is the
//! exception: see console.rs).

use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

use isola_runtime::Stdio;

/// Opens the three streams of a task; an empty path is `/dev/null`.
pub fn open(stdin: &str, stdout: &str, stderr: &str) -> Result<Arc<Stdio>, String> {
    Ok(Arc::new(Stdio { stdin: open_stdin(stdin)?, stdout: open_output(stdout, "stdout")?, stderr: open_output(stderr, "stderr")? }))
}

fn plain_path<'a>(path: &'a str, name: &str) -> Result<&'a str, String> {
    match path.split_once("://") {
        None => Ok(path),
        Some(("fifo" | "file", _)) if path.starts_with("file://") => Ok(&path["file://".len()..]),
        Some((scheme, _)) => Err(format!("{name} {path:?}: the {scheme}:// scheme is not supported (give a fifo or file path)")),
    }
}

/// stdin: read-only, opened without blocking (the writer may come later), then blocking reads.
pub(crate) fn open_stdin(path: &str) -> Result<OwnedFd, String> {
    if path.is_empty() {
        return dev_null(false);
    }
    let path = plain_path(path, "stdin")?;
    let f = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(|e| format!("stdin {path}: {e}"))?;
    let fd = OwnedFd::from(f);
    set_blocking(&fd).map_err(|e| format!("stdin {path}: {e}"))?;
    Ok(fd)
}

/// stdout/stderr: a fifo is opened read-write, so the open does not wait for containerd's
/// reader and a reader that goes away (containerd restarting) does not kill the workload
/// with SIGPIPE; a regular file is appended to.
pub(crate) fn open_output(path: &str, name: &str) -> Result<OwnedFd, String> {
    if path.is_empty() {
        return dev_null(true);
    }
    let path = plain_path(path, name)?;
    let is_fifo = std::fs::metadata(path).map(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type())).unwrap_or(false);
    let f = if is_fifo {
        OpenOptions::new().read(true).write(true).open(path)
    } else {
        OpenOptions::new().append(true).create(true).open(path)
    }
    .map_err(|e| format!("{name} {path}: {e}"))?;
    Ok(OwnedFd::from(f))
}

fn dev_null(write: bool) -> Result<OwnedFd, String> {
    OpenOptions::new().read(!write).write(write).open("/dev/null").map(OwnedFd::from).map_err(|e| format!("/dev/null: {e}"))
}

fn set_blocking(fd: &OwnedFd) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_other_than_files_are_refused() {
        assert_eq!(plain_path("/run/x/stdout", "stdout").unwrap(), "/run/x/stdout");
        assert_eq!(plain_path("file:///var/log/x", "stdout").unwrap(), "/var/log/x");
        let e = plain_path("binary:///usr/bin/logger?x=1", "stdout").unwrap_err();
        assert!(e.contains("binary://"), "{e}");
    }

    #[test]
    fn fifos_open_without_a_peer() {
        let dir = tempfile_dir();
        let fifo = dir.join("out");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let s = open(fifo.to_str().unwrap(), fifo.to_str().unwrap(), "").unwrap();
        use std::io::{Read, Write};
        std::fs::File::from(s.stdout.try_clone().unwrap()).write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        std::fs::File::from(s.stdin.try_clone().unwrap()).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("isola-shim-stdio-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
