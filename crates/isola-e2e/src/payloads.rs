//! The suite's C programs (payloads/*.c), compiled by clang 14 to static native binaries and to
//! `wasm32-wasi` modules. Never downloads anything: sources are compiled into the crate.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One C source of the suite.
#[derive(Clone, Copy, Debug)]
pub struct Payload {
    pub name: &'static str,
    pub source: &'static str,
}

pub const PAUSE: Payload = Payload {
    name: "pause",
    source: include_str!("../payloads/pause.c"),
};
pub const HELLO: Payload = Payload {
    name: "hello",
    source: include_str!("../payloads/hello.c"),
};
pub const SLEEPER: Payload = Payload {
    name: "sleeper",
    source: include_str!("../payloads/sleeper.c"),
};
pub const MEMHOG: Payload = Payload {
    name: "memhog",
    source: include_str!("../payloads/memhog.c"),
};

/// What a payload is compiled to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// `clang -O2 -static`: a static x86_64 ELF.
    Native,
    /// `clang --target=wasm32-wasi -O2`: a preview1 core module.
    Wasm,
}

/// Compiles `payload` into `out_dir`: `NAME` (native) or `NAME.wasm`. Returns the output path.
pub fn compile(payload: Payload, build: Build, out_dir: &Path) -> Result<PathBuf> {
    let src_dir = out_dir.join("src");
    std::fs::create_dir_all(&src_dir)?;
    let src = src_dir.join(format!("{}.c", payload.name));
    std::fs::write(&src, payload.source)?;
    let (out, flags): (PathBuf, &[&str]) = match build {
        Build::Native => (out_dir.join(payload.name), &["-O2", "-static"]),
        Build::Wasm => (
            out_dir.join(format!("{}.wasm", payload.name)),
            &["--target=wasm32-wasi", "-O2"],
        ),
    };
    let output = Command::new("clang")
        .args(flags)
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .context("running clang (install clang, lld, wasi-libc, libclang-rt-dev-wasm32: scripts/setup.sh)")?;
    if !output.status.success() {
        bail!(
            "clang {:?} {} failed: {}",
            build,
            src.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(out)
}
