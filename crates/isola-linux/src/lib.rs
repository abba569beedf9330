//! isola's container layer: the only crate besides isola-wasm that touches the OS.
//! It wraps youki's libcontainer (namespaces, cgroups, rootfs, seccomp, hooks) and adds what
//! isola needs around it: host facts for policy, rootfs checks, cgroup cleanup by path,
//! foreground waiting with signal forwarding. It never decides policy.

pub mod cgroup;
pub mod container;
pub mod executor;
pub mod guest_root;
pub mod host;
pub mod seccomp;
pub mod setup_lock;
pub mod wait;

pub use libcontainer;
pub use libcontainer::oci_spec;

/// An error from the container layer, with the chain of causes flattened into one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LinuxError(pub String);

impl LinuxError {
    /// Formats an error and all its sources as `outer: inner: innermost`.
    pub fn chain(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut msg = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            let text = s.to_string();
            if !msg.contains(&text) {
                msg.push_str(": ");
                msg.push_str(&text);
            }
            source = s.source();
        }
        LinuxError(msg)
    }
}

impl From<libcontainer::error::LibcontainerError> for LinuxError {
    fn from(e: libcontainer::error::LibcontainerError) -> Self {
        LinuxError::chain(&e)
    }
}

impl From<std::io::Error> for LinuxError {
    fn from(e: std::io::Error) -> Self {
        LinuxError(e.to_string())
    }
}
