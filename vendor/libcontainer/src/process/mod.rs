//! Provides a thin wrapper around fork syscall,
//! with enums and functions specific to youki implemented

pub mod args;
pub mod channel;
pub mod container_intermediate_process;
pub mod container_main_process;
pub mod cpu_affinity;
mod fork;
// isola patch: see `fork::set_multithreaded_caller`; the clone itself for isola-linux's test of it.
pub use fork::{container_clone_into, set_multithreaded_caller};
pub mod init;
pub mod intel_rdt;
pub mod memory_policy;
mod message;
#[cfg(feature = "libseccomp")]
mod seccomp_listener;
