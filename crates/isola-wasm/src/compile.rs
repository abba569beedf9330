//! Compilation of an untrusted module in a forked child bounded in memory (RLIMIT_DATA above
//! what the runtime already holds), CPU time and wall-clock time, so that a hostile module
//! cannot take the node's memory or cores before its container exists. The parent gets the
//! compiled code through a sealed memfd. With [`CompileLimits`] set, a module is never compiled
//! in the calling process.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use wasmtime::Engine;

use crate::cache::{Kind, Sealed};
use crate::error::{one_line, WasmError};
use crate::CompileLimits;

/// Compiles in this process (no bounds): the library's default, and the child's own work.
pub(crate) fn precompile(engine: &Engine, bytes: &[u8], kind: Kind) -> wasmtime::Result<Vec<u8>> {
    match kind {
        Kind::Module => engine.precompile_module(bytes),
        Kind::Component => engine.precompile_component(bytes),
    }
}

/// Exit codes of the compile child, also sent as its one status byte.
const CHILD_OK: i32 = 0;
const CHILD_INVALID: i32 = 1;
const CHILD_IO: i32 = 2;

/// A compile child that has handed over its result and may still be exiting (unmapping a
/// copy of the runtime's address space takes about a millisecond). Dropping it reaps it, so
/// the caller overlaps that exit with its own work (storing, deserializing) and no zombie
/// outlives the compile.
pub(crate) struct ExitingChild(libc::pid_t);

impl Drop for ExitingChild {
    fn drop(&mut self) {
        let _ = reap(self.0);
    }
}

/// Compiles `bytes` in a child process under `limits` and returns the sealed code as soon as
/// the child has written it, with the child still to be reaped.
pub(crate) fn in_child(
    engine: &Engine,
    path: &Path,
    bytes: &[u8],
    kind: Kind,
    limits: &CompileLimits,
) -> Result<(Sealed, ExitingChild), WasmError> {
    let refused = |cause: String| WasmError::CompileRefused { path: path.to_path_buf(), cause };
    let io = |step: &'static str, e: std::io::Error| refused(format!("{step}: {e}"));
    let mut out = memfd().map_err(|e| io("memfd_create", e))?;
    let (status_read, status_write) = pipe().map_err(|e| io("pipe", e))?;
    let data_now = vm_data_bytes().map_err(|e| io("reading VmData", e))?;
    let threads = limits.threads.clamp(1, cores());
    let cpu_seconds = limits.timeout.as_secs_f64() * threads as f64;
    let started = Instant::now();
    if threads_of_this_process() > 1 {
        // glibc's allocator is fork-safe, but a lock of another thread (a logger's, say) is
        // inherited held; the runtime itself compiles while single-threaded.
        tracing::warn!("compiling in a child forked from a multi-threaded process");
    }
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the child only compiles, writes to the memfd and the status pipe and `_exit`s;
    // it never returns into the caller's code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io("fork", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: the child's own setup: die with the parent, quiet stdio, bounds; then _exit.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // Named for what it is in `ps` and profiles (a fork would show as the runtime).
            libc::prctl(libc::PR_SET_NAME, c"isola-compile".as_ptr());
            // A parent killed before the prctl took effect would never send the signal.
            if libc::getppid() != parent {
                libc::_exit(CHILD_IO);
            }
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            if null >= 0 {
                libc::dup2(null, 1);
                libc::dup2(null, 2);
            }
            let data = libc::rlimit { rlim_cur: data_now.saturating_add(limits.memory), rlim_max: data_now.saturating_add(limits.memory) };
            let cpu_limit = cpu_seconds.ceil() as u64 + 1;
            let cpu = libc::rlimit { rlim_cur: cpu_limit, rlim_max: cpu_limit + 1 };
            if libc::setrlimit(libc::RLIMIT_DATA, &data) != 0 || libc::setrlimit(libc::RLIMIT_CPU, &cpu) != 0 {
                libc::_exit(CHILD_IO);
            }
        }
        drop(status_read);
        // A compile allocates and frees in bursts on every rayon thread: by default glibc
        // trims a thread's arena as soon as its top is free and serves blocks over 128 KiB
        // with mmap, so the threads mprotect and mmap in turn under one mmap lock (~10 % of
        // a Winch compile of 100 KB of code in `perf`). This short-lived process keeps what
        // it allocated instead (RLIMIT_DATA above still bounds it).
        // SAFETY: mallopt with glibc's documented parameters, before this process's threads exist.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        }
        // wasmtime compiles functions in parallel on rayon's global pool, which reads this
        // when it starts (in this child: the runtime never compiles in its own process).
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        let code = match precompile(engine, bytes, kind) {
            Ok(code) => match out.write_all(Sealed::new(&code).bytes()) {
                Ok(()) => CHILD_OK,
                Err(_) => CHILD_IO,
            },
            Err(e) => {
                let _ = out.write_all(one_line(&e).as_bytes());
                CHILD_INVALID
            }
        };
        // The status byte tells the parent the output is complete; it need not wait for the exit.
        let _ = (&status_write).write_all(&[code as u8]);
        // SAFETY: ends the child without running the parent's destructors or atexit handlers.
        unsafe { libc::_exit(code) }
    }
    drop(status_write);
    let child = ExitingChild(pid);
    let reported = wait_for_status(pid, &status_read, limits.timeout).map_err(|e| io("waiting for the compiler", e))?;
    let mut written = Vec::new();
    out.rewind().and_then(|_| out.read_to_end(&mut written)).map_err(|e| io("reading the compiled code", e))?;
    let memory_mib = limits.memory >> 20;
    let over_memory = |how: String| {
        refused(format!(
            "the compiler {how}, as it does when it needs more than the compile memory bound of {memory_mib} MiB (node key wasm.compile-memory, lowered to the container's memory limit)"
        ))
    };
    match reported {
        Reported::TimedOut => {
            // SAFETY: killing our own child, which has not been reaped yet (`child` reaps it).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            Err(refused(format!(
                "compiling took longer than the compile time bound of {} ms (node key wasm.compile-timeout-ms); stopped",
                limits.timeout.as_millis()
            )))
        }
        Reported::Status(CHILD_OK) => match Sealed::verified(written) {
            Some(sealed) => {
                tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "compiled in a bounded child");
                Ok((sealed, child))
            }
            None => Err(refused("the compiler's output is incomplete".into())),
        },
        Reported::Status(CHILD_INVALID) => Err(crate::cache::compile_error_text(path, String::from_utf8_lossy(&written).into_owned())),
        Reported::Status(other) => Err(over_memory(format!("exited with status {other}"))),
        Reported::Died => {
            std::mem::forget(child);
            let s = reap(pid).map_err(|e| io("waiting for the compiler", e))?;
            Err(match s {
                s if libc::WIFSIGNALED(s) && matches!(libc::WTERMSIG(s), libc::SIGXCPU | libc::SIGKILL) => refused(format!(
                    "compiling used more than the compile CPU bound of {cpu_seconds:.0} s (compile-timeout-ms on each of {threads} threads); stopped"
                )),
                s => over_memory(describe(s)),
            })
        }
    }
}

/// How a compile child ended its work.
enum Reported {
    /// It sent its status byte (its output is complete).
    Status(i32),
    /// It ended without one (killed at a bound, or crashed).
    Died,
    /// The wall-clock bound passed first.
    TimedOut,
}

/// Waits until `pid` sends its status byte on `status` or exits, at most `timeout`.
fn wait_for_status(pid: libc::pid_t, status: &File, timeout: Duration) -> std::io::Result<Reported> {
    // SAFETY: pidfd_open on our own child; the fd is owned by the File below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        // SAFETY: killing our own unreaped child (the caller's guard reaps it).
        unsafe { libc::kill(pid, libc::SIGKILL) };
        return Err(e);
    }
    // SAFETY: a fresh fd from pidfd_open.
    let pidfd = unsafe { File::from_raw_fd(fd) };
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [
            libc::pollfd { fd: status.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: two pollfds we own.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, left.as_millis().min(i32::MAX as u128) as i32) };
        if rc == 0 {
            return Ok(Reported::TimedOut);
        }
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // SAFETY: killing our own unreaped child (the caller's guard reaps it).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Err(e);
        }
        // Readable, hung up, or the child exited: a byte is there or never will be. (A copy of
        // the write end forked into another process meanwhile cannot hide the child's exit:
        // the pidfd reports it.)
        if fds[0].revents != 0 || fds[1].revents != 0 {
            let mut byte = [0u8; 1];
            // SAFETY: a read of at most one byte into a buffer we own, on a non-blocking pipe.
            let n = unsafe { libc::read(status.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
            if n == 1 {
                return Ok(Reported::Status(i32::from(byte[0])));
            }
            // End of file (no writer left) or nothing to read from a child that has exited:
            // the byte is written before the exit, so it will never come.
            if n == 0 || fds[1].revents != 0 {
                return Ok(Reported::Died);
            }
        }
    }
}

fn describe(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        format!("was killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    }
}

fn reap(pid: libc::pid_t) -> std::io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Ok(status);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A pipe (read end, write end), close-on-exec, the read end non-blocking.
fn pipe() -> std::io::Result<(File, File)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two fds we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors owned by nobody else.
    let (read, write) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on a descriptor we own.
    if unsafe { libc::fcntl(fds[0], libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((read, write))
}

fn memfd() -> std::io::Result<File> {
    // SAFETY: a static NUL-terminated name; memfd_create returns a new fd or -1.
    let fd = unsafe { libc::memfd_create(c"isola-compile".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// This process's data segment size (what RLIMIT_DATA counts), from /proc/self/status.
pub(crate) fn vm_data_bytes() -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmData:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| std::io::Error::other("no VmData line"))
}

fn threads_of_this_process() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
