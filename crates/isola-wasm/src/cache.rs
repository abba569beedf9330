//! The per-node cache of compiled modules: artifacts keyed by sha256(module) and the engine
//! fingerprint, written atomically, compiled once under a per-key `flock`. Loading an artifact
//! runs its machine code, so this cache is part of the security boundary: it must never load a
//! file that anyone but the current euid could have written, or that failed a check.
//!
//! Layout of the cache directory (owned by the euid, mode 0700):
//! `<sha256>-<fingerprint>.cwasm` (artifact, 0600), `<same>.lock` (flock only),
//! `<same>.<pid>.<n>.tmp` (a write in progress, renamed into place when complete),
//! `<same>.failed` (a tiered sandbox's background compile of that key runs or failed; see
//! `background.rs`), `background.log` (one line per background compile).
//! With a size bound, each compile evicts the least recently loaded artifacts (an artifact's
//! mtime is its last load) until the cache fits, skipping any a loader holds a shared lock on.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use crate::background;
use crate::compile;
use crate::engine::hex;
use crate::error::{one_line, WasmError};
use crate::CompileLimits;

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
    /// Size bound of all artifacts; past it the least recently used are evicted.
    max_bytes: Option<u64>,
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
        let cache = Self { dir: Some(dir), max_bytes: None };
        cache.verify_dir()?;
        Ok(cache)
    }

    /// Opens a cache directory that must already exist (never creating it) and verifies it: the
    /// background compile's, whose cache may have been removed since the compile was started.
    pub(crate) fn existing(dir: PathBuf, max_bytes: Option<u64>) -> Result<Self, WasmError> {
        let cache = Self { dir: Some(dir), max_bytes };
        cache.verify_dir()?;
        Ok(cache)
    }

    /// A cache that stores nothing: every prepare compiles in memory (for one-off runs, or the
    /// `wasm-only` profile on a machine without a root-owned cache directory).
    pub fn disabled() -> Self {
        Self { dir: None, max_bytes: None }
    }

    /// Bounds the total size of the artifacts: after each compile, the least recently used
    /// artifacts (by last load) are evicted until the cache fits, never the one just stored
    /// and never one that is being loaded.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = Some(max_bytes);
        self
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
        limits: Option<&CompileLimits>,
    ) -> Result<(Artifact, CacheOutcome), WasmError> {
        let Some(artifact) = self.artifact_path(bytes, fingerprint) else {
            let compiled = match limits {
                None => compile_in_memory(engine, module_path, bytes, kind)?,
                Some(l) => {
                    let (sealed, _exiting) = compile::in_child(engine, module_path, bytes, kind, l)?;
                    // SAFETY: produced by `Engine::precompile_*` on this engine's configuration
                    // in our own forked child, handed over in a memfd only we hold, sealed.
                    deserialize(engine, module_path, sealed.code(), kind)?
                }
            };
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
        // The child (if any) is reaped at the end of this call: its exit overlaps the store.
        let (sealed, _exiting) = match limits {
            None => (Sealed::new(&compile::precompile(engine, bytes, kind).map_err(|e| compile_error(module_path, &e))?), None),
            Some(l) => compile::in_child(engine, module_path, bytes, kind, l).map(|(s, child)| (s, Some(child)))?,
        };
        write_atomically(&artifact, sealed.bytes())?;
        // A background compile of this key that failed is answered by this one.
        let _ = fs::remove_file(failed_marker(&artifact));
        self.evict_over_bound(&artifact);
        tracing::info!(
            module = %module_path.display(),
            artifact = %artifact.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled wasm module into cache"
        );
        // `serialized` was produced a moment ago by `precompile_*` on this engine's
        // configuration, in this process or in our own bounded child (through a sealed memfd).
        let loaded = deserialize(engine, module_path, sealed.code(), kind)?;
        Ok((loaded, CacheOutcome::Compiled))
    }

    /// A verified artifact the cache holds, if any: no compile, no lock.
    pub(crate) fn load_cached(&self, engine: &Engine, fingerprint: &str, bytes: &[u8], kind: Kind) -> Result<Option<Artifact>, WasmError> {
        let Some(artifact) = self.artifact_path(bytes, fingerprint) else { return Ok(None) };
        self.verify_dir()?;
        Ok(try_load(engine, &artifact, kind))
    }

    /// Starts `job` (the optimised compile of a module that runs on baseline code) as a
    /// background process running `exe`, unless the cache holds its artifact, another process
    /// compiles it now, or an attempt failed within [`background::RETRY_AFTER`]. Nothing here
    /// fails the caller: the guest runs on baseline code either way.
    pub(crate) fn fill_in_background(&self, exe: &Path, job: &background::Job) {
        let (Some(dir), Some(artifact)) = (&self.dir, self.artifact_path(job.bytes, job.fingerprint)) else { return };
        if artifact.exists() {
            return;
        }
        if let Ok(meta) = fs::symlink_metadata(failed_marker(&artifact)) {
            if meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age < background::RETRY_AFTER) {
                tracing::debug!(artifact = %artifact.display(), "an optimised compile of this module failed recently; not trying again yet");
                return;
            }
        }
        match try_lock_key(&artifact) {
            Ok(Some(_free)) => {}
            Ok(None) => {
                tracing::debug!(artifact = %artifact.display(), "an optimised compile of this module is running");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the optimised compile");
                return;
            }
        }
        let started = std::time::Instant::now();
        match background::spawn(exe, dir, self.max_bytes, job) {
            Ok(()) => tracing::debug!(artifact = %artifact.display(), elapsed_us = started.elapsed().as_micros() as u64, "started the optimised compile in the background"),
            Err(e) => tracing::warn!(error = %e, "cannot start the optimised compile"),
        }
    }

    /// The background compile's work: under the key's lock (nothing, if another process holds
    /// it or the artifact is there), compile, store sealed, evict over the bound. The baseline
    /// artifact stays (a start that missed the optimised one a moment ago loads it instead of
    /// compiling again); it is never loaded again after that, so it is the first evicted.) A marker `<key>.failed` stands while the compile runs
    /// and stays if it fails or is killed at a bound, so later starts do not try again at once.
    pub(crate) fn fill(&self, engine: &Engine, fingerprint: &str, bytes: &[u8], kind: Kind) -> Result<(), String> {
        let artifact = self.artifact_path(bytes, fingerprint).ok_or("no cache directory")?;
        let Some(_lock) = try_lock_key(&artifact).map_err(|e| e.to_string())? else { return Ok(()) };
        if artifact.exists() {
            return Ok(());
        }
        let marker = failed_marker(&artifact);
        write_atomically(&marker, format!("optimised compile started by pid {}\n", std::process::id()).as_bytes())
            .map_err(|e| e.to_string())?;
        let started = std::time::Instant::now();
        match compile::precompile(engine, bytes, kind) {
            Ok(code) => {
                write_atomically(&artifact, Sealed::new(&code).bytes()).map_err(|e| e.to_string())?;
                let _ = fs::remove_file(&marker);
                self.evict_over_bound(&artifact);
                self.record(&format!("compiled {} in {} ms", file_name(&artifact), started.elapsed().as_millis()));
                Ok(())
            }
            Err(e) => {
                let cause = one_line(&e);
                let _ = write_atomically(&marker, format!("optimised compile failed: {cause}\n").as_bytes());
                self.record(&format!("failed {}: {cause}", file_name(&artifact)));
                Err(cause)
            }
        }
    }

    /// Appends one line to `background.log` in the cache directory, the background compiles'
    /// record for operators (they have no terminal and no runtime log); past 1 MiB the file
    /// is moved to `background.log.1` first.
    fn record(&self, line: &str) {
        let Some(dir) = &self.dir else { return };
        let path = dir.join(BACKGROUND_LOG);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.len() > 1 << 20) {
            let _ = fs::rename(&path, dir.join(format!("{BACKGROUND_LOG}.1")));
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let _ = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{now} pid {} {line}\n", std::process::id()).as_bytes()));
    }

    /// Evicts least recently used artifacts until the cache fits its bound (see
    /// [`ModuleCache::with_max_bytes`]), and removes temporary files of writers that died.
    fn evict_over_bound(&self, keep: &Path) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = fs::read_dir(dir) else { return };
        let mut artifacts = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                remove_if_writer_died(&path, &name);
                continue;
            }
            if !name.ends_with(".cwasm") {
                continue;
            }
            if let Ok(meta) = entry.metadata() {
                artifacts.push((meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len(), path));
            }
        }
        let Some(max) = self.max_bytes else { return };
        let mut total: u64 = artifacts.iter().map(|a| a.1).sum();
        if total <= max {
            return;
        }
        artifacts.sort();
        for (_, size, path) in artifacts {
            if total <= max {
                break;
            }
            if path == keep {
                continue;
            }
            // Loaders hold a shared flock on the artifact while they read it: skip those.
            let Ok(file) = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(&path) else {
                continue;
            };
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                continue;
            }
            if fs::remove_file(&path).is_ok() {
                total = total.saturating_sub(size);
                let _ = fs::remove_file(path.with_extension("lock"));
                tracing::info!(artifact = %path.display(), bytes = size, "evicted least recently used wasm artifact");
            }
        }
    }
}

/// Removes `<key>.<pid>.<n>.tmp` when process `pid` no longer exists (a writer killed mid-write).
fn remove_if_writer_died(path: &Path, name: &str) {
    let pid = name.rsplit('.').nth(2).and_then(|p| p.parse::<u32>().ok());
    if let Some(pid) = pid {
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(path);
        }
    }
}

/// Loads compiled code this process (or its bounded compile child) just produced.
fn deserialize(engine: &Engine, path: &Path, code: &[u8], kind: Kind) -> Result<Artifact, WasmError> {
    // SAFETY: callers pass only code made by `Engine::precompile_*` for this engine's
    // configuration moments ago, which never passed through a file anyone else can write.
    unsafe {
        match kind {
            Kind::Module => Module::deserialize(engine, code).map(Artifact::Module),
            Kind::Component => Component::deserialize(engine, code).map(Artifact::Component),
        }
    }
    .map_err(|e| WasmError::Invalid { path: path.to_path_buf(), cause: one_line(&e) })
}

/// Compile errors name the module; an early end of input is reported as truncation.
pub(crate) fn compile_error(path: &Path, err: &wasmtime::Error) -> WasmError {
    compile_error_text(path, one_line(err))
}

/// As [`compile_error`], for a cause already flattened to one line.
pub(crate) fn compile_error_text(path: &Path, cause: String) -> WasmError {
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
    // so a partially written file is never visible under the final name (one torn by a crash
    // of the node fails the seal below). The name binds the
    // artifact to sha256(module bytes) and the engine fingerprint.
    let mut file = file;
    // A shared lock while reading: eviction (which takes it exclusively) skips this artifact.
    // SAFETY: flock on a descriptor we own.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH) };
    // The modification time records the last use, for least-recently-used eviction.
    let _ = file.set_modified(std::time::SystemTime::now());
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

/// Compiled code with its seal, as the cache stores it; the seal checked when made.
pub(crate) struct Sealed(Vec<u8>);

impl Sealed {
    pub(crate) fn new(code: &[u8]) -> Self {
        Sealed(seal(code))
    }

    /// `buf` if it carries a matching seal.
    pub(crate) fn verified(buf: Vec<u8>) -> Option<Self> {
        unseal(&buf)?;
        Some(Sealed(buf))
    }

    /// The compiled code.
    pub(crate) fn code(&self) -> &[u8] {
        &self.0[..self.0.len() - SEAL_LEN]
    }

    /// The code with its seal, for the cache.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Bytes a seal adds: [`SEAL_MAGIC`] and a sha256.
const SEAL_LEN: usize = 40;

/// Marks the end of a sealed artifact: `code ++ SEAL_MAGIC ++ sha256(code)`.
const SEAL_MAGIC: &[u8; 8] = b"ISOLASUM";

/// Appends the seal to compiled code.
pub(crate) fn seal(code: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::with_capacity(code.len() + SEAL_LEN);
    out.extend_from_slice(code);
    out.extend_from_slice(SEAL_MAGIC);
    out.extend_from_slice(&Sha256::digest(code));
    out
}

/// The compiled code of a sealed artifact, if its seal matches.
pub(crate) fn unseal(buf: &[u8]) -> Option<&[u8]> {
    use sha2::{Digest, Sha256};
    let n = buf.len().checked_sub(SEAL_LEN)?;
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
    let file = open_lock(artifact).map_err(|e| io("open lock file", e))?;
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

/// The key's lock if nobody holds it now, `None` if somebody does.
fn try_lock_key(artifact: &Path) -> std::io::Result<Option<KeyLock>> {
    let file = open_lock(artifact)?;
    // SAFETY: flock on a file descriptor we own; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(Some(KeyLock(file)));
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::WouldBlock {
        Ok(None)
    } else {
        Err(e)
    }
}

/// `<key>.lock` (created 0600 if missing, never through a symlink).
fn open_lock(artifact: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(artifact.with_extension("lock"))
}

/// The background compiles' record, in the cache directory.
pub(crate) const BACKGROUND_LOG: &str = "background.log";

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `<key>.failed`: an optimised background compile of this key is running, or failed.
fn failed_marker(artifact: &Path) -> PathBuf {
    artifact.with_extension("failed")
}

/// temp file in the same directory (O_EXCL, 0600) + write + rename. No fsync: the cache is
/// not a record that must survive a crash, and an artifact torn by one fails its seal, is
/// discarded and compiled again (the two fsyncs took ~1 ms of every first start, more on a
/// busy disk).
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
        fs::rename(&tmp, artifact).map_err(|e| io("rename artifact into place", e))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_code_is_handed_over_only_with_its_seal_intact() {
        let code = b"compiled code".to_vec();
        let sealed = Sealed::new(&code);
        assert_eq!(sealed.code(), &code[..]);
        assert_eq!(unseal(sealed.bytes()), Some(&code[..]));
        let again = Sealed::verified(sealed.bytes().to_vec()).expect("an intact seal is accepted");
        assert_eq!(again.code(), &code[..]);

        let mut flipped = sealed.bytes().to_vec();
        flipped[3] ^= 1;
        assert!(Sealed::verified(flipped).is_none(), "a changed byte of code fails the seal");
        let torn = sealed.bytes()[..sealed.bytes().len() - 1].to_vec();
        assert!(Sealed::verified(torn).is_none(), "a torn write fails the seal");
        assert!(Sealed::verified(Vec::new()).is_none(), "an empty file fails the seal");
        assert!(Sealed::verified(code).is_none(), "code without a seal is refused");
    }
}
