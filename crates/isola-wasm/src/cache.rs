//! The per-node cache of compiled modules: artifacts keyed by sha256(module) and the engine
//! fingerprint, written atomically, compiled once under a per-key `flock`. Loading an artifact
//! runs its machine code, so this cache is part of the security boundary: it must never load a
//! file that anyone but the current euid could have written, or that failed a check.
//!
//! Layout of the cache directory (owned by the euid, mode 0700):
//! `<sha256>-<fingerprint>.cwasm` (artifact, 0600), `<same>.lock` (flock only),
//! `<same>.<pid>.<n>.tmp` (a write in progress, renamed into place when complete).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use crate::engine::hex;
use crate::error::{one_line, WasmError};

/// Whether `prepare`/`precompile` found a usable artifact or had to compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// A verified artifact was loaded from the cache.
    Hit,
    /// The module was compiled (and stored, unless the cache is disabled).
    Compiled,
}

/// What the bytes are: a core module (WASI preview1) or a component (`wasi:cli/command`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Module,
    Component,
}

/// A compiled, loaded artifact.
pub(crate) enum Artifact {
    Module(Module),
    Component(Component),
}

/// The on-disk module cache. Cheap to construct; holds no open files between loads.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: Option<PathBuf>,
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl ModuleCache {
    /// Opens (creating with mode 0700 if missing) the cache directory `dir`, then verifies it:
    /// a real directory (not a symlink) owned by the current euid with no group/other bits.
    /// An existing directory that fails the check is an error, never "repaired".
    pub fn new(dir: PathBuf) -> Result<Self, WasmError> {
        if let Some(parent) = dir.parent() {
            if !parent.as_os_str().is_empty() {
                fs::create_dir_all(parent).map_err(|source| WasmError::CacheIo {
                    path: dir.clone(),
                    step: "create parent directory",
                    source,
                })?;
            }
        }
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(WasmError::CacheIo {
                    path: dir,
                    step: "create directory",
                    source,
                })
            }
        }
        let cache = Self { dir: Some(dir) };
        cache.verify_dir()?;
        Ok(cache)
    }

    /// A cache that stores nothing: every prepare compiles in memory (for one-off runs, or the
    /// `wasm-only` profile on a machine without a root-owned cache directory).
    pub fn disabled() -> Self {
        Self { dir: None }
    }

    /// The cache directory, if caching is enabled.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The artifact path for module bytes under an engine fingerprint.
    pub(crate) fn artifact_path(&self, bytes: &[u8], fingerprint: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let digest = Sha256::digest(bytes);
        Some(dir.join(format!("{}-{fingerprint}.cwasm", hex(&digest))))
    }

    /// Checks the directory right before it is trusted: lstat (a symlink fails), owner == euid,
    /// mode & 0o077 == 0.
    fn verify_dir(&self) -> Result<(), WasmError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let insecure = |cause: String| WasmError::CacheInsecure {
            path: dir.clone(),
            euid: euid(),
            cause,
        };
        let meta = fs::symlink_metadata(dir).map_err(|e| insecure(format!("cannot stat: {e}")))?;
        if !meta.file_type().is_dir() {
            return Err(insecure("not a directory (or a symlink)".into()));
        }
        if meta.uid() != euid() {
            return Err(insecure(format!("owned by uid {}", meta.uid())));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(insecure(format!("mode {:04o}", meta.mode() & 0o7777)));
        }
        Ok(())
    }

    /// Returns the compiled artifact for `bytes`: a verified cache hit, or a fresh compile that
    /// is stored atomically. Concurrent callers (threads or processes) for the same key compile
    /// once: the first takes the key's lock, the others wait and then find the artifact.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        fingerprint: &str,
        module_path: &Path,
        bytes: &[u8],
        kind: Kind,
    ) -> Result<(Artifact, CacheOutcome), WasmError> {
        let Some(artifact) = self.artifact_path(bytes, fingerprint) else {
            let compiled = compile_in_memory(engine, module_path, bytes, kind)?;
            return Ok((compiled, CacheOutcome::Compiled));
        };
        self.verify_dir()?;
        if let Some(hit) = try_load(engine, &artifact, kind) {
            return Ok((hit, CacheOutcome::Hit));
        }

        let _lock = lock_key(&artifact)?;
        // Someone may have compiled it while we waited for the lock.
        self.verify_dir()?;
        if let Some(hit) = try_load(engine, &artifact, kind) {
            return Ok((hit, CacheOutcome::Hit));
        }

        let started = std::time::Instant::now();
        let serialized = match kind {
            Kind::Module => engine.precompile_module(bytes),
            Kind::Component => engine.precompile_component(bytes),
        }
        .map_err(|e| compile_error(module_path, &e))?;
        write_atomically(&artifact, &seal(&serialized))?;
        tracing::info!(
            module = %module_path.display(),
            artifact = %artifact.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled wasm module into cache"
        );
        // SAFETY: `serialized` was produced a moment ago by `precompile_*` on this very engine in
        // this process; it never left our memory before being deserialized.
        let loaded = unsafe {
            match kind {
                Kind::Module => Module::deserialize(engine, &serialized).map(Artifact::Module),
                Kind::Component => {
                    Component::deserialize(engine, &serialized).map(Artifact::Component)
                }
            }
        }
        .map_err(|e| WasmError::Invalid {
            path: module_path.to_path_buf(),
            cause: one_line(&e),
        })?;
        Ok((loaded, CacheOutcome::Compiled))
    }
}

/// Compile errors name the module; an early end of input is reported as truncation.
pub(crate) fn compile_error(path: &Path, err: &wasmtime::Error) -> WasmError {
    let cause = one_line(err);
    let lower = cause.to_ascii_lowercase();
    if lower.contains("unexpected end") {
        WasmError::Truncated {
            path: path.to_path_buf(),
            cause,
        }
    } else {
        WasmError::Invalid {
            path: path.to_path_buf(),
            cause,
        }
    }
}

fn compile_in_memory(
    engine: &Engine,
    path: &Path,
    bytes: &[u8],
    kind: Kind,
) -> Result<Artifact, WasmError> {
    match kind {
        Kind::Module => Module::from_binary(engine, bytes).map(Artifact::Module),
        Kind::Component => Component::from_binary(engine, bytes).map(Artifact::Component),
    }
    .map_err(|e| compile_error(path, &e))
}

/// Removes an artifact that failed a check, so it is recompiled rather than ever loaded.
fn discard(path: &Path, why: &str) {
    tracing::warn!(artifact = %path.display(), reason = why, "discarding cached wasm artifact");
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(artifact = %path.display(), error = %e, "cannot remove artifact");
        }
    }
}

/// Opens and verifies an artifact, then deserializes it from the very file descriptor that was
/// checked (no second path lookup). Any failure discards the file and reports a miss.
fn try_load(engine: &Engine, path: &Path, kind: Kind) -> Option<Artifact> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            // ELOOP: a symlink planted in place of the artifact.
            discard(path, &format!("cannot open without following links: {e}"));
            return None;
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            discard(path, &format!("cannot fstat: {e}"));
            return None;
        }
    };
    if !meta.file_type().is_file() {
        discard(path, "not a regular file");
        return None;
    }
    if meta.uid() != euid() {
        discard(
            path,
            &format!("owned by uid {}, not {}", meta.uid(), euid()),
        );
        return None;
    }
    if meta.mode() & 0o022 != 0 {
        discard(
            path,
            &format!("group/world-writable mode {:04o}", meta.mode() & 0o7777),
        );
        return None;
    }
    // SAFETY: wasmtime's deserialize checks the artifact's header, wasmtime version and engine
    // compatibility, but trusts the machine code inside. That trust is sound only because of the
    // checks above and in `verify_dir`: the cache directory is owned by the euid with mode 0700
    // (so nobody else can create, replace or rename entries in it), the artifact is a regular
    // file (O_NOFOLLOW, checked on this fd) owned by the euid and not group/world-writable, and
    // artifacts are only ever created by `write_atomically` from `Engine::precompile_*` output,
    // so a partially written file is never visible under the final name. The name binds the
    // artifact to sha256(module bytes) and the engine fingerprint.
    let mut file = file;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    if let Err(e) = file.read_to_end(&mut buf) {
        discard(path, &format!("cannot read: {e}"));
        return None;
    }
    // The checks above stop other users; the seal stops corruption (a torn disk write, a bit
    // flip, an edit by someone with root): the bytes deserialized are the bytes hashed.
    let Some(code) = unseal(&buf) else {
        discard(path, "its seal (sha256 of the compiled code) does not match");
        return None;
    };
    let loaded = unsafe {
        match kind {
            Kind::Module => Module::deserialize(engine, code).map(Artifact::Module),
            Kind::Component => Component::deserialize(engine, code).map(Artifact::Component),
        }
    };
    match loaded {
        Ok(a) => Some(a),
        Err(e) => {
            discard(path, &format!("does not deserialize: {}", one_line(&e)));
            None
        }
    }
}

/// Marks the end of a sealed artifact: `code ++ SEAL_MAGIC ++ sha256(code)`.
const SEAL_MAGIC: &[u8; 8] = b"ISOLASUM";

/// Appends the seal to compiled code.
fn seal(code: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::with_capacity(code.len() + 40);
    out.extend_from_slice(code);
    out.extend_from_slice(SEAL_MAGIC);
    out.extend_from_slice(&Sha256::digest(code));
    out
}

/// The compiled code of a sealed artifact, if its seal matches.
fn unseal(buf: &[u8]) -> Option<&[u8]> {
    use sha2::{Digest, Sha256};
    let n = buf.len().checked_sub(40)?;
    let (code, trailer) = buf.split_at(n);
    (&trailer[..8] == SEAL_MAGIC && trailer[8..] == Sha256::digest(code)[..]).then_some(code)
}

/// Holds the per-key lock until dropped (closing the fd releases the flock).
struct KeyLock(#[allow(dead_code)] File);

fn lock_key(artifact: &Path) -> Result<KeyLock, WasmError> {
    let lock_path = artifact.with_extension("lock");
    let io = |step, source| WasmError::CacheIo {
        path: lock_path.clone(),
        step,
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&lock_path)
        .map_err(|e| io("open lock file", e))?;
    loop {
        // SAFETY: flock on a file descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(KeyLock(file));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(io("flock", err));
        }
    }
}

/// temp file in the same directory (O_EXCL, 0600) + write + fsync + rename + fsync(dir).
fn write_atomically(artifact: &Path, data: &[u8]) -> Result<(), WasmError> {
    let io = |step, source| WasmError::CacheIo {
        path: artifact.to_path_buf(),
        step,
        source,
    };
    let tmp = artifact.with_extension(format!(
        "{}.{}.tmp",
        std::process::id(),
        TMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|e| io("create temporary artifact", e))?;
        f.write_all(data).map_err(|e| io("write artifact", e))?;
        f.sync_all().map_err(|e| io("fsync artifact", e))?;
        fs::rename(&tmp, artifact).map_err(|e| io("rename artifact into place", e))?;
        if let Some(dir) = artifact.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io("fsync cache directory", e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
