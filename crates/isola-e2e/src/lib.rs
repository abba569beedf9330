//! isola's end-to-end harness: a private containerd 1.6 with its CRI plugin, CNI and the `isola`
//! RuntimeClass handler (installed by `isola install`), images built by `isola image`, a CRI
//! client that drives pods like the kubelet, and a teardown that leaves nothing on the host.
//! Needs root, containerd, runc, CNI plugins and clang (scripts/setup.sh installs them).
//!
//! ```no_run
//! let isola = isola_e2e::harness::isola_binary()?;
//! let mut h = isola_e2e::harness::Harness::start(&isola)?;
//! // ... h.cri() ...
//! assert!(h.teardown().is_empty());
//! # anyhow::Ok(())
//! ```

pub mod bench;
pub mod containerd;
pub mod cri;
pub mod harness;
pub mod images;
pub mod payloads;
pub mod teardown;

/// `d` scaled by `ISOLA_TEST_TIME_SCALE` (set by the VM suites, whose guest runs under QEMU's
/// slower TCG emulation; 1 otherwise), for every wall-clock bound of the suite.
pub fn scaled(d: std::time::Duration) -> std::time::Duration {
    let scale = std::env::var("ISOLA_TEST_TIME_SCALE").ok().and_then(|v| v.parse::<u32>().ok()).filter(|n| *n >= 1);
    d * scale.unwrap_or(1)
}
