//! Seccomp, compiled once and cached: a profile is translated with libseccomp to classic BPF
//! in the runtime process, cached under the state root by the profile's sha256, and installed
//! by the workload's executor right before `execve`. Compiling Docker-sized profiles costs
//! ~20 ms per container; loading the cached program costs microseconds.
//! The cache is trusted code for the kernel filter, so it is root-owned, 0700, and checked.
//!
//! Masked-equal operands follow runc: `value` is the mask, `valueTwo` the datum.

use std::fs;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::str::FromStr;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};
use sha2::{Digest, Sha256};

use crate::LinuxError;

/// A compiled filter, ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledFilter {
    /// Classic BPF instructions (8 bytes each).
    pub bpf: Vec<u8>,
    /// SECCOMP_FILTER_FLAG_* bits.
    pub flags: u32,
}

/// Whether isola can compile this profile itself (user notification needs libcontainer's path).
pub fn is_cacheable(profile: &LinuxSeccomp) -> bool {
    profile.default_action() != LinuxSeccompAction::ScmpActNotify
        && profile.listener_path().is_none()
        && !profile
            .syscalls()
            .iter()
            .flatten()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActNotify)
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, LinuxError> {
    let errno = errno.map(|e| e as i32).unwrap_or(libc::EPERM);
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno as u16),
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(LinuxError("seccomp: SCMP_ACT_NOTIFY cannot be precompiled".into()))
        }
    })
}

fn compare(index: usize, op: LinuxSeccompOperator, value: u64, value_two: Option<u64>) -> ScmpArgCompare {
    let index = index as u32;
    match op {
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            ScmpArgCompare::new(index, ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0))
        }
        other => {
            let op = match other {
                LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
                LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
                LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
                LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
                LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
                _ => ScmpCompareOp::Equal,
            };
            ScmpArgCompare::new(index, op, value)
        }
    }
}

/// Translates an OCI profile to BPF with libseccomp.
pub fn compile(profile: &LinuxSeccomp) -> Result<CompiledFilter, LinuxError> {
    let err = |what: &str, e: libseccomp::error::SeccompError| LinuxError(format!("seccomp: {what}: {e}"));
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| err("new filter", e))?;
    ctx.set_ctl_nnp(false).map_err(|e| err("nnp", e))?;
    for arch in profile.architectures().iter().flatten() {
        let name = serde_json::to_value(arch).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let arch = ScmpArch::from_str(&name).map_err(|e| err(&name, e))?;
        ctx.add_arch(arch).map_err(|e| err("add arch", e))?;
    }
    let mut flags = 0u32;
    for flag in profile.flags().iter().flatten() {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC as u32,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG as u32,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 1 << 5,
        };
    }
    for rule in profile.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        for name in rule.names() {
            // A name this libseccomp or architecture does not know is skipped, as runc does.
            let Ok(sc) = ScmpSyscall::from_name(name) else { continue };
            let args: Vec<ScmpArgCompare> = rule
                .args()
                .iter()
                .flatten()
                .map(|a| compare(a.index(), a.op(), a.value(), a.value_two()))
                .collect();
            let mut indexes: Vec<usize> = rule.args().iter().flatten().map(|a| a.index()).collect();
            indexes.sort_unstable();
            indexes.dedup();
            if args.is_empty() {
                ctx.add_rule(act, sc).map_err(|e| err(name, e))?;
            } else if indexes.len() == args.len() {
                ctx.add_rule_conditional(act, sc, &args).map_err(|e| err(name, e))?;
            } else {
                // Several comparisons of one argument: separate rules (runc's behaviour).
                for a in &args {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(a)).map_err(|e| err(name, e))?;
                }
            }
        }
    }
    let mut mem = tempfile_in_memory()?;
    ctx.export_bpf(&mem).map_err(|e| err("export", e))?;
    let mut bpf = Vec::new();
    mem.rewind()?;
    mem.read_to_end(&mut bpf)?;
    Ok(CompiledFilter { bpf, flags })
}

fn tempfile_in_memory() -> Result<fs::File, LinuxError> {
    let name = c"isola-seccomp";
    // SAFETY: a static NUL-terminated name; memfd_create returns a new fd or -1.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(LinuxError(format!("memfd_create: {}", std::io::Error::last_os_error())));
    }
    use std::os::fd::FromRawFd;
    // SAFETY: fd is fresh and owned by nobody else.
    Ok(unsafe { fs::File::from_raw_fd(fd) })
}

/// The compiled filter for a profile, from the cache under `cache_dir` or compiled and stored.
pub fn cached(profile: &LinuxSeccomp, cache_dir: &Path) -> Result<CompiledFilter, LinuxError> {
    let json = serde_json::to_vec(profile).map_err(|e| LinuxError(e.to_string()))?;
    let mut h = Sha256::new();
    h.update(json);
    h.update(format!("{:?}", libseccomp::ScmpVersion::current().ok()));
    let key = hex::encode(h.finalize());
    let path = cache_dir.join(format!("{key}.bpf"));
    if let Some(filter) = read_trusted(cache_dir, &path) {
        return Ok(filter);
    }
    let filter = compile(profile)?;
    // A cache that cannot be written only costs speed.
    if let Err(e) = store_durable(cache_dir, &path, &filter, true) {
        tracing::warn!("seccomp cache {}: {e}", cache_dir.display());
    }
    Ok(filter)
}

fn secure_dir(dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = fs::symlink_metadata(dir)?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != euid || meta.mode() & 0o077 != 0 {
        return Err(std::io::Error::other(format!(
            "{} must be a directory owned by uid {euid} with mode 0700",
            dir.display()
        )));
    }
    Ok(())
}

/// Header of a stored filter: magic, then the sha256 of everything after the header.
const STORED_MAGIC: &[u8; 8] = b"ISOLABPF";
const STORED_HEADER: usize = 8 + 32;

/// Reads a stored filter if the directory and file pass the ownership and mode checks and the
/// content matches the sha256 sealed in its header; a file that fails any check is deleted and
/// logged (the caller compiles the profile again). Layout: `ISOLABPF`, sha256 of the rest,
/// 4 bytes flags (LE), the program.
pub fn read_trusted(dir: &Path, path: &Path) -> Option<CompiledFilter> {
    secure_dir(dir).ok()?;
    let mut f = fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path).ok()?;
    let meta = f.metadata().ok()?;
    let discard = |why: &str| {
        tracing::warn!("seccomp cache: discarding {}: {why}", path.display());
        let _ = fs::remove_file(path);
        None
    };
    // SAFETY: geteuid has no preconditions.
    if !meta.is_file() || meta.uid() != unsafe { libc::geteuid() } || meta.mode() & 0o022 != 0 {
        return discard("not a regular file owned by this user and writable only by it");
    }
    let mut bytes = Vec::new();
    if f.read_to_end(&mut bytes).is_err() {
        return discard("unreadable");
    }
    let Some(body) = bytes.strip_prefix(STORED_MAGIC.as_slice()).and_then(|rest| rest.get(32..)) else {
        return discard("no sealed header");
    };
    if Sha256::digest(body).as_slice() != &bytes[8..STORED_HEADER] {
        return discard("content does not match its sealed sha256 (corrupted)");
    }
    if body.len() < 12 || (body.len() - 4) % 8 != 0 || (body.len() - 4) / 8 > 4096 {
        return discard("not a whole BPF program");
    }
    let flags = u32::from_le_bytes(body[..4].try_into().ok()?);
    Some(CompiledFilter { bpf: body[4..].to_vec(), flags })
}

/// Stores a filter atomically in a 0700 directory, sealed with the sha256 of its content, for
/// a container's state dir: no fsync (state does not outlive a reboot; the sealed sha256 still
/// catches a torn file).
pub fn store(dir: &Path, path: &Path, filter: &CompiledFilter) -> std::io::Result<()> {
    store_durable(dir, path, filter, false)
}

/// As `store`; `durable` syncs the data before the rename (the node-wide cache).
fn store_durable(dir: &Path, path: &Path, filter: &CompiledFilter, durable: bool) -> std::io::Result<()> {
    secure_dir(dir)?;
    let mut body = filter.flags.to_le_bytes().to_vec();
    body.extend_from_slice(&filter.bpf);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let written = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(STORED_MAGIC)?;
        f.write_all(&Sha256::digest(&body))?;
        f.write_all(&body)?;
        if durable {
            f.sync_data()?;
        }
        drop(f);
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // A full disk must not leave a half-written file behind.
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Installs a compiled filter on the calling thread (no_new_privs must already be set).
pub fn install(filter: &CompiledFilter) -> std::io::Result<()> {
    let prog = libc::sock_fprog {
        len: (filter.bpf.len() / 8) as u16,
        filter: filter.bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prog points at a valid program that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            filter.flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profile_compiles_and_is_cached() {
        let profile = isola_policy::seccomp::default_profile();
        let dir = std::env::temp_dir().join(format!("isola-seccomp-test-{}", std::process::id()));
        let first = cached(&profile, &dir).unwrap();
        assert!(first.bpf.len() > 8 * 100, "a real allow-list is hundreds of instructions");
        let second = cached(&profile, &dir).unwrap();
        assert_eq!(first, second);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// In a forked child (raw syscalls only after fork): with the wasm host profile on, exec,
    /// sockets, fork and executable mappings fail with EPERM while plain mappings still work.
    #[test]
    fn wasm_host_profile_refuses_exec_sockets_fork_and_executable_memory() {
        let filter = compile(&isola_policy::seccomp::wasm_host_profile()).unwrap();
        // /bin/false: an exec that got through would end the child with 1, failing the test.
        let path = std::ffi::CString::new("/bin/false").unwrap();
        let argv = [path.as_ptr(), std::ptr::null()];
        // SAFETY: the child only makes raw syscalls on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let eperm = || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            let mut failures = 0;
            unsafe {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if install(&filter).is_err() {
                    libc::_exit(100);
                }
                let rw = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
                if rw == libc::MAP_FAILED { failures |= 1; }
                let rx = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_EXEC,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
                if rx != libc::MAP_FAILED || !eperm() { failures |= 2; }
                if libc::mprotect(rw, 4096, libc::PROT_READ | libc::PROT_EXEC) == 0 || !eperm() { failures |= 4; }
                if libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) >= 0 || !eperm() { failures |= 8; }
                if libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0) >= 0 || !eperm() { failures |= 16; }
                libc::execve(path.as_ptr(), argv.as_ptr(), std::ptr::null());
                if !eperm() { failures |= 32; }
                libc::_exit(failures);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "bit set = a call that should have failed with EPERM did not (1 = plain mmap failed)");
    }

    /// A few flipped bytes in a cached filter (length unchanged) are caught by the sealed hash:
    /// the entry is discarded and the profile compiled again, never installed as it is.
    #[test]
    fn a_corrupted_cached_filter_is_discarded_and_rebuilt() {
        let profile = isola_policy::seccomp::default_profile();
        let dir = std::env::temp_dir().join(format!("isola-seccomp-test-corrupt-{}", std::process::id()));
        let good = cached(&profile, &dir).unwrap();
        let artifact = fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
        let mut bytes = fs::read(&artifact).unwrap();
        let len = bytes.len();
        for b in &mut bytes[len - 64..len - 56] {
            *b ^= 0x5a;
        }
        fs::write(&artifact, &bytes).unwrap();
        assert!(read_trusted(&dir, &artifact).is_none(), "a corrupted filter is never trusted");
        assert!(!artifact.exists(), "the corrupted entry is discarded");
        assert_eq!(cached(&profile, &dir).unwrap(), good, "compiled again");
        assert_eq!(fs::read(&artifact).unwrap().len(), len, "and stored again");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_world_writable_artifact_is_not_trusted() {
        let profile = isola_policy::seccomp::default_profile();
        let dir = std::env::temp_dir().join(format!("isola-seccomp-test-ww-{}", std::process::id()));
        cached(&profile, &dir).unwrap();
        let artifact = fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&artifact, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(read_trusted(&dir, &artifact).is_none());
        assert!(!artifact.exists(), "the untrusted artifact is discarded");
        fs::remove_dir_all(&dir).unwrap();
    }
}
