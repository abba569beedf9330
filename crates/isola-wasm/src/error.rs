//! The one error type of the wasm layer: every failure before guest code runs.
//! Each message is a single line naming the module (or cache path) and the cause; it must never
//! carry guest output or multi-line backtraces, because the runtime prints it as-is.

use std::path::PathBuf;

/// Why a module could not be prepared (or the sandbox built). `Display` is one line.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The file could not be read at all.
    #[error("{path}: cannot read module: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the wasm magic `\0asm`.
    #[error("{path}: not a wasm binary (missing \\0asm magic)")]
    NotWasm { path: PathBuf },
    /// The binary ends before a section, function body or the header is complete.
    #[error("{path}: truncated wasm binary: {cause}")]
    Truncated { path: PathBuf, cause: String },
    /// Well-formed bytes that fail validation or compilation.
    #[error("{path}: invalid wasm: {cause}")]
    Invalid { path: PathBuf, cause: String },
    /// A core module import that neither WASI preview1 nor anything else provides.
    #[error("{path}: module imports unknown {kind} {module}::{name}")]
    UnknownImport {
        path: PathBuf,
        kind: &'static str,
        module: String,
        name: String,
    },
    /// Linking failed for another reason (e.g. a component import that WASI does not provide).
    #[error("{path}: cannot link: {cause}")]
    Link { path: PathBuf, cause: String },
    /// The module is not a runnable command (no `_start`, or no `wasi:cli/run` export).
    #[error("{path}: not a WASI command: {cause}")]
    NotCommand { path: PathBuf, cause: String },
    /// A preopened directory could not be opened on the host.
    #[error("preopen {host} (guest {guest}): {cause}")]
    Preopen {
        host: PathBuf,
        guest: String,
        cause: String,
    },
    /// The cache directory (or an artifact's directory) fails the ownership/mode check.
    #[error("module cache {path} is insecure: {cause}; it must be a directory owned by uid {euid} with mode 0700")]
    CacheInsecure {
        path: PathBuf,
        euid: u32,
        cause: String,
    },
    /// An I/O error on the cache directory (create, lock, write, rename).
    #[error("module cache {path}: {step}: {source}")]
    CacheIo {
        path: PathBuf,
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The module file is larger than the node accepts.
    #[error("{path}: module is larger than the limit of {limit} bytes (node key wasm.max-module-bytes)")]
    TooLarge { path: PathBuf, limit: u64 },
    /// The module declares more (initial memory, table) than the sandbox's limits allow.
    #[error("{path}: over the sandbox's limits: {cause}")]
    OverLimit { path: PathBuf, cause: String },
    /// Compiling the module went past a compile bound (memory, time), or its child failed.
    #[error("{path}: compilation refused: {cause}")]
    CompileRefused { path: PathBuf, cause: String },
    /// The engine rejected its configuration (a bug in isola, or an unsupported host).
    #[error("wasm engine configuration rejected: {cause}")]
    Engine { cause: String },
}

/// Flattens a wasmtime error chain into one line (`outer: inner: root`).
pub(crate) fn one_line(err: &wasmtime::Error) -> String {
    let s = format!("{err:#}");
    s.replace('\n', " ")
}
