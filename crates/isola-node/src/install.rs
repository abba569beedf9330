//! `isola install`: adds the `isola` runtime handler to a node's containerd config (version 2,
//! containerd 1.6 and 1.7; version 3, containerd 2.x), editing the TOML in place so comments and
//! layout survive, idempotently, with a backup. The handler runs isola through containerd's runc
//! shim, or (`--shim`) through isola's own shim, `containerd-shim-isola-v1`.
//! It must never leave a half-written or unparsable config, and never restarts containerd itself.
//!
//! ```no_run
//! use isola_node::install::{install, InstallOptions};
//! let report = install(&InstallOptions::new("/usr/local/bin/isola")).unwrap();
//! print!("{report}");
//! ```

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Table, Value};

pub const DEFAULT_CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
pub const DEFAULT_HANDLER: &str = "isola";
pub const DEFAULT_RUNTIME_ROOT: &str = "/run/isola";
/// Pod and container annotations containerd passes through to isola (they choose wasm and its limits).
pub const PASSED_ANNOTATIONS: [&str; 3] = ["module.wasm.image/*", "run.oci.handler", "io.isola.*"];
/// Where the CRI runtimes live: containerd 1.x's CRI plugin (config version 2), and containerd
/// 2.x's CRI runtime plugin (version 3).
const CRI_PLUGIN_V2: &str = "io.containerd.grpc.v1.cri";
const CRI_PLUGIN_V3: &str = "io.containerd.cri.v1.runtime";
const RUNC_SHIM: &str = "io.containerd.runc.v2";
/// isola's own shim (crates/isola-shim), found through the handler's `runtime_path`.
const ISOLA_SHIM: &str = "io.containerd.isola.v1";
/// The file name of isola's shim, installed beside `isola`.
pub const SHIM_BINARY: &str = "containerd-shim-isola-v1";

/// Which shim runs the handler's containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shim {
    /// containerd's runc shim executing `isola` (`BinaryName`) for every verb.
    #[default]
    Runc,
    /// isola's own shim, one per pod, running the runtime in process (`runtime_path`).
    Isola,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{path}: cannot parse as TOML, left untouched: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{path}: {reason}; left untouched (isola install edits containerd `version = 2` and `version = 3` configs)")]
    Version { path: PathBuf, reason: String },
    #[error("{path}: `{key}` is not a [table] section (a value or an inline table); left untouched")]
    NotATable { path: PathBuf, key: String },
    #[error("{what} {value:?}: {reason}")]
    BadOption { what: &'static str, value: String, reason: &'static str },
    #[error("{path}: {step}: {cause}")]
    Io { path: PathBuf, step: &'static str, cause: std::io::Error },
}

/// What `isola install` was asked for.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub config_path: PathBuf,
    /// The RuntimeClass `handler`.
    pub handler: String,
    /// Absolute path of the isola binary on the node (with `Shim::Isola`, of its shim).
    pub binary: PathBuf,
    pub shim: Shim,
    /// State directory containerd's shim passes as `--root`.
    pub runtime_root: PathBuf,
    pub dry_run: bool,
}

impl InstallOptions {
    /// The defaults, for the given binary.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        InstallOptions {
            config_path: DEFAULT_CONTAINERD_CONFIG.into(),
            handler: DEFAULT_HANDLER.into(),
            binary: binary.into(),
            shim: Shim::Runc,
            runtime_root: DEFAULT_RUNTIME_ROOT.into(),
            dry_run: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The config already says all of it.
    Unchanged,
    /// `--dry-run`: the unified diff that a real run would apply.
    DryRun { diff: String },
    /// Written; `backup` holds the previous file (None when there was none).
    Written { backup: Option<PathBuf> },
}

#[derive(Debug, Clone)]
pub struct InstallReport {
    pub path: PathBuf,
    pub handler: String,
    pub outcome: Outcome,
}

impl fmt::Display for InstallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, handler) = (self.path.display(), &self.handler);
        match &self.outcome {
            Outcome::Unchanged => writeln!(f, "{path}: runtime handler `{handler}` is already configured; nothing changed"),
            Outcome::DryRun { diff } if diff.is_empty() => {
                writeln!(f, "{path}: runtime handler `{handler}` is already configured; nothing would change")
            }
            Outcome::DryRun { diff } => writeln!(f, "{diff}(dry run: {path} not written)"),
            Outcome::Written { backup } => {
                writeln!(f, "{path}: configured runtime handler `{handler}`")?;
                match backup {
                    Some(b) => writeln!(f, "previous file kept as {}", b.display())?,
                    None => writeln!(f, "(there was no previous file)")?,
                }
                writeln!(f, "containerd reads it at start: run `systemctl restart containerd` to load the handler")
            }
        }
    }
}

/// Checks the options, edits (or creates) the config, and writes it with a backup unless nothing
/// changes or `dry_run` is set.
pub fn install(opts: &InstallOptions) -> Result<InstallReport, InstallError> {
    validate(opts)?;
    let path = &opts.config_path;
    // Edit the file a symlink points at, so the link survives the rename.
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).map_err(|source| InstallError::Io {
            path: path.clone(),
            step: "resolving the symlink",
            cause: source,
        })?,
        _ => path.clone(),
    };
    let existing = match crate::read_regular_file(&target, MAX_CONFIG_BYTES) {
        Ok(bytes) => Some(
            String::from_utf8(bytes).map_err(|_| InstallError::Parse { path: path.clone(), reason: "not UTF-8 text".into() })?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(InstallError::Io { path: path.clone(), step: "reading", cause: source }),
    };
    let old = existing.as_deref().unwrap_or("");
    let new = configure_shim(path, old, &opts.handler, opts.shim, &opts.binary, &opts.runtime_root)?;
    let report = |outcome| InstallReport { path: path.clone(), handler: opts.handler.clone(), outcome };
    if opts.dry_run {
        let diff = if new == old {
            String::new()
        } else {
            let (a, b) = (format!("{} (current)", path.display()), format!("{} (isola install)", path.display()));
            similar::TextDiff::from_lines(old, &new).unified_diff().header(&a, &b).to_string()
        };
        return Ok(report(Outcome::DryRun { diff }));
    }
    if existing.is_some() && new == old {
        return Ok(report(Outcome::Unchanged));
    }
    let backup = match existing {
        Some(_) => Some(backup(&target)?),
        None => None,
    };
    if let Err(e) = write_atomically(&target, new.as_bytes()) {
        if let Some(b) = &backup {
            let _ = fs::remove_file(b);
        }
        return Err(e);
    }
    Ok(report(Outcome::Written { backup }))
}

/// Largest containerd config read (16 MiB; real ones are a few KiB).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

fn validate(opts: &InstallOptions) -> Result<(), InstallError> {
    let h = &opts.handler;
    let label_ok = !h.is_empty()
        && h.len() <= 63
        && h.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !h.starts_with('-')
        && !h.ends_with('-');
    if !label_ok {
        return Err(InstallError::BadOption {
            what: "--handler",
            value: h.clone(),
            reason: "a RuntimeClass handler is a DNS label: 1-63 of [a-z0-9-], not starting or ending with '-'",
        });
    }
    for (what, p) in [("--binary", &opts.binary), ("--runtime-root", &opts.runtime_root)] {
        let value = p.display().to_string();
        if !p.is_absolute() || p.to_str().is_none() || value.chars().any(char::is_control) {
            return Err(InstallError::BadOption {
                what,
                value,
                reason: "must be an absolute UTF-8 path without control characters",
            });
        }
    }
    Ok(())
}

/// The pure edit for a runc-shim handler: see [`configure_shim`].
pub fn configure(path: &Path, text: &str, handler: &str, binary: &Path, runtime_root: &Path) -> Result<String, InstallError> {
    configure_shim(path, text, handler, Shim::Runc, binary, runtime_root)
}

/// The pure edit: `text` (a containerd config, possibly empty) with the handler added or updated
/// (switching it between shims drops the other shim's key). Returns `text` unchanged when it
/// already says everything. `path` only names the file in errors.
pub fn configure_shim(path: &Path, text: &str, handler: &str, shim: Shim, binary: &Path, runtime_root: &Path) -> Result<String, InstallError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| InstallError::Parse { path: path.to_owned(), reason: one_line(&e.to_string()) })?;
    let version_err = |reason: String| InstallError::Version { path: path.to_owned(), reason };
    // A new or empty file is written as version 2, which containerd 1.6 to 2.x all read.
    let cri_plugin = match doc.get("version") {
        None if doc.as_table().is_empty() => {
            doc.insert("version", toml_edit::value(2));
            CRI_PLUGIN_V2
        }
        None => {
            return Err(version_err(
                "no `version` key, so containerd reads it as a version 1 config; convert it to `version = 2` first".into(),
            ))
        }
        Some(v) => match v.as_integer() {
            Some(2) => CRI_PLUGIN_V2,
            Some(3) => CRI_PLUGIN_V3,
            Some(1) => return Err(version_err("`version = 1`; convert it to `version = 2` first".into())),
            // one_line: `version` may be a table or a multi-line string (found by fuzz/install).
            _ => return Err(version_err(format!("unexpected `version = {}`", one_line(&v.to_string())))),
        },
    };
    // containerd's systemd cgroup setting for runc, mirrored so both runtimes agree with the kubelet.
    let systemd_cgroup = doc
        .get("plugins")
        .and_then(|p| p.get(cri_plugin))
        .and_then(|p| p.get("containerd"))
        .and_then(|p| p.get("runtimes"))
        .and_then(|p| p.get("runc"))
        .and_then(|p| p.get("options"))
        .and_then(|p| p.get("SystemdCgroup"))
        .and_then(Item::as_bool);
    let handler_is_new = doc
        .get("plugins")
        .and_then(|p| p.get(cri_plugin))
        .and_then(|p| p.get("containerd"))
        .and_then(|p| p.get("runtimes"))
        .and_then(|p| p.get(handler))
        .is_none();
    let mut next_position = max_position(doc.as_table()) + 1;
    let mut table = doc.as_table_mut();
    let mut key_path = String::new();
    for key in ["plugins", cri_plugin, "containerd", "runtimes", handler, "options"] {
        key_path.push_str(&if key_path.is_empty() {
            key.to_owned()
        } else if key.contains('.') {
            format!(".\"{key}\"")
        } else {
            format!(".{key}")
        });
        let is_new = !table.contains_key(key);
        if is_new {
            let mut t = Table::new();
            t.set_implicit(true);
            table.insert(key, Item::Table(t));
        }
        let Some(Item::Table(child)) = table.get_mut(key) else {
            return Err(InstallError::NotATable { path: path.to_owned(), key: key_path });
        };
        if child.is_dotted() {
            return Err(InstallError::NotATable { path: path.to_owned(), key: key_path });
        }
        table = child;
        if key == handler || key == "options" {
            if table.is_implicit() || is_new {
                table.set_implicit(false);
                table.set_position(next_position);
                next_position += 1;
                table.decor_mut().set_prefix("\n");
            }
            if key == handler {
                match shim {
                    Shim::Runc => {
                        set(table, "runtime_type", RUNC_SHIM.into());
                        table.remove("runtime_path");
                    }
                    Shim::Isola => {
                        set(table, "runtime_type", ISOLA_SHIM.into());
                        set(table, "runtime_path", path_str(binary).into());
                    }
                }
                set(table, "pod_annotations", Value::Array(PASSED_ANNOTATIONS.into_iter().collect::<Array>()));
                set(table, "container_annotations", Value::Array(PASSED_ANNOTATIONS.into_iter().collect::<Array>()));
            } else {
                match shim {
                    Shim::Runc => set(table, "BinaryName", path_str(binary).into()),
                    Shim::Isola => {
                        table.remove("BinaryName");
                    }
                }
                set(table, "Root", path_str(runtime_root).into());
                if let Some(on) = systemd_cgroup {
                    set(table, "SystemdCgroup", on.into());
                }
            }
        }
    }
    let out = doc.to_string();
    // Keep the exact original when nothing meaningful changed (idempotence is byte-for-byte,
    // also where toml_edit would re-render a layout).
    if out == text || same_values(text, &out) {
        return Ok(text.to_owned());
    }
    if handler_is_new && !text.trim().is_empty() {
        if let Some(appended) = append_handler(text, &out, &doc, cri_plugin, handler) {
            return Ok(appended);
        }
    }
    Ok(out)
}

/// A new handler as text appended to the untouched original, when that means exactly what the
/// edited document `out` means. toml_edit re-renders some layouts when it writes a document
/// (root-level dotted keys that share a prefix come out regrouped: found by fuzz/install), so
/// appending keeps every input byte where re-rendering would move lines. None when the appended
/// text would not parse to the same values (the caller then writes the re-rendered document).
fn append_handler(text: &str, out: &str, doc: &DocumentMut, cri_plugin: &str, handler: &str) -> Option<String> {
    let runtimes = doc.get("plugins")?.get(cri_plugin)?.get("containerd")?.get("runtimes")?;
    let handler_table = runtimes.get(handler)?.as_table()?.clone();
    // A document holding only the handler's tables, under implicit parents, renders as their
    // headers and keys alone.
    let mut only = DocumentMut::new();
    let mut table = only.as_table_mut();
    for key in ["plugins", cri_plugin, "containerd", "runtimes"] {
        let mut t = Table::new();
        t.set_implicit(true);
        table.insert(key, Item::Table(t));
        table = table.get_mut(key)?.as_table_mut()?;
    }
    table.insert(handler, Item::Table(handler_table));
    let rendered = only.to_string();
    let mut appended = text.to_owned();
    if !appended.ends_with('\n') {
        appended.push('\n');
    }
    if !rendered.starts_with('\n') {
        appended.push('\n');
    }
    appended.push_str(&rendered);
    same_values(out, &appended).then_some(appended)
}

/// Whether two TOML texts both parse and hold the same values (compared by their `Debug` text,
/// so that `nan` equals `nan`).
fn same_values(a: &str, b: &str) -> bool {
    match (toml::from_str::<toml::Table>(a), toml::from_str::<toml::Table>(b)) {
        (Ok(x), Ok(y)) => format!("{x:?}") == format!("{y:?}"),
        _ => false,
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sets `key` unless it already holds an equal value, keeping the key's place and its comments.
fn set(table: &mut Table, key: &str, mut new: Value) {
    match table.get_mut(key) {
        Some(Item::Value(cur)) if same(cur, &new) => {}
        Some(Item::Value(cur)) => {
            *new.decor_mut() = cur.decor().clone();
            *cur = new;
        }
        _ => {
            table.insert(key, Item::Value(new));
        }
    }
}

/// Equality of TOML values, ignoring formatting.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q)),
        _ => false,
    }
}

fn max_position(t: &Table) -> usize {
    let mut max = t.position().unwrap_or(0);
    for (_, item) in t.iter() {
        match item {
            Item::Table(c) => max = max.max(max_position(c)),
            Item::ArrayOfTables(a) => {
                for c in a.iter() {
                    max = max.max(max_position(c));
                }
            }
            _ => {}
        }
    }
    max
}

/// Copies the current file to `NAME.isola-backup`, or, when that exists (an earlier install),
/// to `NAME.isola-backup.<unix seconds>`; never overwrites a backup.
fn backup(target: &Path) -> Result<PathBuf, InstallError> {
    let io = |step, source| InstallError::Io { path: target.to_owned(), step, cause: source };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "config.toml".into());
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let candidates = std::iter::once(format!("{name}.isola-backup"))
        .chain(std::iter::once(format!("{name}.isola-backup.{secs}")))
        .chain((1..100).map(|n| format!("{name}.isola-backup.{secs}.{n}")));
    let contents = fs::read(target).map_err(|e| io("reading for the backup", e))?;
    let mode = fs::metadata(target).map_err(|e| io("reading for the backup", e))?.permissions().mode();
    for candidate in candidates {
        let b = target.with_file_name(candidate);
        let mut f = match fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&b) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io("creating the backup", e)),
        };
        let done = f
            .write_all(&contents)
            .and_then(|_| f.set_permissions(fs::Permissions::from_mode(mode & 0o7777)))
            .and_then(|_| f.sync_all());
        if let Err(e) = done {
            let _ = fs::remove_file(&b);
            return Err(io("writing the backup", e));
        }
        return Ok(b);
    }
    Err(io("creating the backup", std::io::Error::other("too many backups already")))
}

/// Temp file in the same directory, same mode and owner as the old file (0644 root for a new
/// one), fsync, rename over the target.
fn write_atomically(target: &Path, data: &[u8]) -> Result<(), InstallError> {
    let io = |step, source| InstallError::Io { path: target.to_owned(), step, cause: source };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| io("creating its directory", e))?;
    let old = fs::metadata(target).ok();
    let mut tmp =
        tempfile::Builder::new().prefix(".isola-install-").tempfile_in(dir).map_err(|e| io("creating a temporary file", e))?;
    tmp.write_all(data).map_err(|e| io("writing", e))?;
    let mode = old.as_ref().map_or(0o644, |m| m.permissions().mode() & 0o7777);
    tmp.as_file().set_permissions(fs::Permissions::from_mode(mode)).map_err(|e| io("setting the mode", e))?;
    if let Some(m) = &old {
        std::os::unix::fs::fchown(tmp.as_file(), Some(m.uid()), Some(m.gid())).map_err(|e| io("setting the owner", e))?;
    }
    tmp.as_file().sync_all().map_err(|e| io("syncing", e))?;
    tmp.persist(target).map_err(|e| io("renaming into place", e.error))?;
    Ok(())
}
