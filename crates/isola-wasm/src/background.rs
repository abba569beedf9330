//! The background half of tiered compilation: after a first start ran baseline (Winch) code, a
//! detached process compiles the module with Cranelift into the cache, so later starts run
//! optimised code. The process is a fresh exec of the embedding binary (empty environment, cwd
//! `/`, stdio on /dev/null, no inherited descriptor but the job), bounded like a foreground
//! compile (memory, CPU, wall clock) and scheduled at idle priority; it only ever writes a sealed
//! artifact through the cache's own atomic write, under the key's lock.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cache::{Kind, ModuleCache};
use crate::engine::{build_engine, fingerprint, Allocator, Backend};
use crate::{CompileLimits, SandboxConfig};

/// `argv[1]` of a background compile; a binary that sets [`CompileLimits::background_compiler`]
/// to itself must call [`run_background_compile`] when it sees it.
pub const BACKGROUND_COMPILE_ARG: &str = "__isola-background-compile";

/// The descriptor the job description arrives on.
const JOB_FD: i32 = 3;

/// How long a failed background compile of a module keeps later starts from trying again.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(3600);

/// One optimised compile to run in the background.
pub(crate) struct Job<'a> {
    /// The sandbox's settings (the engine is rebuilt from them in the new process).
    pub cfg: &'a SandboxConfig,
    /// The primary engine's fingerprint: the new process checks it rebuilt the same engine.
    pub fingerprint: &'a str,
    pub bytes: &'a [u8],
    pub kind: Kind,
    pub limits: &'a CompileLimits,
}

/// Background compiles this process started and has not reaped yet.
static STARTED: std::sync::Mutex<Vec<libc::pid_t>> = std::sync::Mutex::new(Vec::new());

/// Reaps the background compiles this process started that have ended, without waiting for
/// the others. A short-lived runtime needs none of this (its children are re-parented when it
/// exits); a long-lived embedder that reaps only the processes it knows of (isola's shim, one
/// per pod) calls it on SIGCHLD, or each cold start would leave a zombie until it exits.
pub fn reap_finished_background_compiles() {
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    started.retain(|&pid| {
        let mut status = 0;
        // SAFETY: a non-blocking wait for one child this process started.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        // 0: still running. The pid, or an error (already reaped by someone else): done.
        rc == 0
    });
}

/// Starts `job` as a process running `exe` in a session of its own; the job's description and
/// module bytes go through a memfd. Returns once the process is started (its result is the
/// cache's concern; [`reap_finished_background_compiles`] reaps it).
pub(crate) fn spawn(exe: &Path, cache_dir: &Path, max_bytes: Option<u64>, job: &Job) -> std::io::Result<()> {
    let mut header = String::from("isola-background-compile v1\n");
    let c = job.cfg;
    for (key, value) in [
        ("cache-dir", hex_path(cache_dir)),
        ("cache-max-bytes", max_bytes.map_or("none".into(), |b| b.to_string())),
        ("fingerprint", job.fingerprint.to_string()),
        ("caller", std::process::id().to_string()),
        ("kind", if job.kind == Kind::Component { "component" } else { "module" }.into()),
        ("max-memory", c.max_memory.to_string()),
        ("max-table-elements", c.max_table_elements.to_string()),
        ("max-instances", c.max_instances.to_string()),
        ("epochs", c.timeout.is_some().to_string()),
        ("fuel", c.fuel.is_some().to_string()),
        ("max-wasm-stack", c.max_wasm_stack.to_string()),
        ("compile-memory", job.limits.memory.to_string()),
        ("compile-timeout-ms", job.limits.timeout.as_millis().to_string()),
        ("compile-threads", job.limits.threads.to_string()),
    ] {
        header.push_str(&format!("{key}={value}\n"));
    }
    header.push('\n');
    let mut memfd = memfd()?;
    memfd.write_all(header.as_bytes())?;
    memfd.write_all(job.bytes)?;
    memfd.rewind()?;

    // The job on a descriptor above the ones the child's file actions set up.
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own; the duplicate is owned below.
    let high = unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if high < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    let high = unsafe { std::os::fd::OwnedFd::from_raw_fd(high) };
    drop(memfd);
    let exe = CString::new(exe.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let argv0 = CString::new("isola-compile").map_err(std::io::Error::other)?;
    let argv1 = CString::new(BACKGROUND_COMPILE_ARG).map_err(std::io::Error::other)?;
    let argv = [argv0.as_ptr() as *mut libc::c_char, argv1.as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
    let envp = [std::ptr::null_mut::<libc::c_char>()];
    // posix_spawn (a vfork-style clone, whatever this process's size) in a new session, with
    // default signal dispositions and an empty mask, cwd `/`, stdio on /dev/null, the job on
    // fd 3 and no other descriptor of the caller (containerd's pipes, the container's setup
    // lock, fds passed with --preserve-fds): none stays open for as long as the compile runs.
    // The runtime does not wait for it: when the runtime exits it is re-parented (to
    // containerd's shim, a subreaper, or to init), which reaps it.
    // SAFETY: the attribute and file-action objects are initialised before use and destroyed
    // after; every pointer handed over lives until posix_spawn returns.
    unsafe {
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        libc::posix_spawnattr_init(&mut attr);
        libc::posix_spawn_file_actions_init(&mut actions);
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigemptyset(&mut none);
        libc::posix_spawnattr_setsigdefault(&mut attr, &all);
        libc::posix_spawnattr_setsigmask(&mut attr, &none);
        libc::posix_spawnattr_setflags(&mut attr, libc::POSIX_SPAWN_SETSID | libc::POSIX_SPAWN_SETSIGDEF as libc::c_short | libc::POSIX_SPAWN_SETSIGMASK as libc::c_short);
        libc::posix_spawn_file_actions_adddup2(&mut actions, high.as_raw_fd(), JOB_FD);
        libc::posix_spawn_file_actions_addopen(&mut actions, 0, c"/dev/null".as_ptr(), libc::O_RDWR, 0);
        libc::posix_spawn_file_actions_adddup2(&mut actions, 0, 1);
        libc::posix_spawn_file_actions_adddup2(&mut actions, 0, 2);
        libc::posix_spawn_file_actions_addclosefrom_np(&mut actions, JOB_FD + 1);
        libc::posix_spawn_file_actions_addchdir_np(&mut actions, c"/".as_ptr());
        let mut pid = 0;
        let rc = libc::posix_spawn(&mut pid, exe.as_ptr(), &actions, &attr, argv.as_ptr(), envp.as_ptr());
        libc::posix_spawn_file_actions_destroy(&mut actions);
        libc::posix_spawnattr_destroy(&mut attr);
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        STARTED.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    }
    Ok(())
}

/// The background compile process: reads its job from fd 3, bounds itself, compiles with
/// Cranelift into the cache, and exits (0 also when another process did or does the work).
pub fn run_background_compile() -> ! {
    // Named for what it is (an exec of /proc/self/exe would show as `exe`).
    // SAFETY: prctl with a static NUL-terminated name.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"isola-compile".as_ptr()) };
    let code = match run() {
        Ok(()) => 0,
        Err(_) => 1,
    };
    std::process::exit(code)
}

fn run() -> Result<(), String> {
    // SAFETY: fd 3 was handed to this process by `spawn` and nothing else owns it.
    let mut job = unsafe { File::from_raw_fd(JOB_FD) };
    let mut buf = Vec::new();
    job.read_to_end(&mut buf).map_err(|e| format!("reading the job: {e}"))?;
    drop(job);
    let split = buf.windows(2).position(|w| w == b"\n\n").ok_or("no end of header")?;
    let header = std::str::from_utf8(&buf[..split]).map_err(|_| "header is not UTF-8")?;
    let bytes = &buf[split + 2..];
    let mut lines = header.lines();
    if lines.next() != Some("isola-background-compile v1") {
        return Err("unknown job format".into());
    }
    let fields: std::collections::HashMap<&str, &str> = lines.filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| fields.get(k).copied().ok_or_else(|| format!("job has no {k}"));
    let num = |k: &str| get(k)?.parse::<u64>().map_err(|_| format!("job's {k} is not a number"));
    let flag = |k: &str| Ok::<bool, String>(get(k)? == "true");
    wait_for_caller(num("caller")? as i32);
    let limits = CompileLimits {
        max_module_bytes: u64::MAX,
        memory: num("compile-memory")?,
        timeout: Duration::from_millis(num("compile-timeout-ms")?),
        threads: num("compile-threads")? as usize,
        background_compiler: None,
    };
    bound_this_process(&limits)?;
    let cfg = SandboxConfig {
        max_memory: num("max-memory")?,
        max_table_elements: num("max-table-elements")? as usize,
        max_instances: num("max-instances")? as usize,
        timeout: flag("epochs")?.then_some(Duration::from_secs(1)),
        fuel: flag("fuel")?.then_some(1),
        max_wasm_stack: num("max-wasm-stack")? as usize,
        ..SandboxConfig::default()
    };
    let engine = build_engine(&cfg, Allocator::default(), Backend::Cranelift).map_err(|e| e.to_string())?;
    let expected = get("fingerprint")?;
    if fingerprint(&engine, Backend::Cranelift) != expected {
        return Err("the rebuilt engine's fingerprint differs from the caller's".into());
    }
    let kind = if get("kind")? == "component" { Kind::Component } else { Kind::Module };
    let dir = unhex_path(get("cache-dir")?)?;
    let max_bytes = match get("cache-max-bytes")? {
        "none" => None,
        n => Some(n.parse::<u64>().map_err(|_| "job's cache-max-bytes is not a number")?),
    };
    let cache = ModuleCache::existing(dir, max_bytes).map_err(|e| e.to_string())?;
    // wasmtime compiles functions in parallel on rayon's global pool, which reads this when it
    // starts; the pool has not started in this fresh process.
    std::env::set_var("RAYON_NUM_THREADS", limits.threads.max(1).to_string());
    cache.fill(&engine, expected, bytes, kind)
}

/// How long the compile waits for the runtime that started it to exit.
const CALLER_WAIT: Duration = Duration::from_secs(2);

/// Waits (at most [`CALLER_WAIT`]) for the runtime process that started this compile to exit:
/// its container's start is the critical path, and a compile beside it, even at idle
/// priority, slows it (measured: ~15 ms on a 2-core VM for the lab's hello). A foreground
/// `run` lives as long as its workload, hence the bound.
fn wait_for_caller(pid: i32) {
    // SAFETY: pidfd_open on a pid; the fd, if any, is owned by the File below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return; // already gone
    }
    // SAFETY: a fresh fd from pidfd_open.
    let pidfd = unsafe { File::from_raw_fd(fd) };
    let mut p = libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd we own.
    unsafe { libc::poll(&mut p, 1, CALLER_WAIT.as_millis() as i32) };
}

/// Idle scheduling class and lowest nice value (the compile runs only on otherwise idle CPU),
/// idle I/O class, and the compile bounds: data segment, CPU time on every thread, wall clock.
fn bound_this_process(limits: &CompileLimits) -> Result<(), String> {
    let data_now = crate::compile::vm_data_bytes().map_err(|e| format!("reading VmData: {e}"))?;
    let cpu_seconds = (limits.timeout.as_secs_f64() * limits.threads.max(1) as f64).ceil() as u64 + 1;
    let wall = limits.timeout;
    // SAFETY: plain system calls on this process with values we own.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
        const IOPRIO_WHO_PROCESS: libc::c_long = 1;
        const IOPRIO_CLASS_IDLE: libc::c_long = 3;
        libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << 13);
        let data = libc::rlimit { rlim_cur: data_now.saturating_add(limits.memory), rlim_max: data_now.saturating_add(limits.memory) };
        let cpu = libc::rlimit { rlim_cur: cpu_seconds, rlim_max: cpu_seconds + 1 };
        let core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::setrlimit(libc::RLIMIT_DATA, &data) != 0 || libc::setrlimit(libc::RLIMIT_CPU, &cpu) != 0 || libc::setrlimit(libc::RLIMIT_CORE, &core) != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
        // SIGALRM's default action ends the process at the wall-clock bound.
        libc::signal(libc::SIGALRM, libc::SIG_DFL);
        let timer = libc::itimerval {
            it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
            it_value: libc::timeval { tv_sec: wall.as_secs() as libc::time_t, tv_usec: wall.subsec_micros() as libc::suseconds_t },
        };
        if libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) != 0 {
            return Err(format!("setitimer: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn memfd() -> std::io::Result<File> {
    // SAFETY: a static NUL-terminated name; memfd_create returns a new fd or -1.
    let fd = unsafe { libc::memfd_create(c"isola-compile-job".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// A path as hex, so any byte (a newline, `=`) survives the line-based header.
fn hex_path(path: &Path) -> String {
    crate::engine::hex(path.as_os_str().as_bytes())
}

fn unhex_path(hex: &str) -> Result<PathBuf, String> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect();
    let bytes = bytes.ok_or("job's cache-dir is not hex")?;
    Ok(PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_background_compile_is_reaped_and_a_running_one_is_not() {
        let dir = std::env::temp_dir().join(format!("isola-bg-reap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = SandboxConfig::default();
        let limits = CompileLimits { max_module_bytes: 1 << 20, memory: 64 << 20, timeout: Duration::from_secs(5), threads: 1, background_compiler: None };
        let job = Job { cfg: &cfg, fingerprint: "f", bytes: b"\0asm", kind: Kind::Module, limits: &limits };
        let pid_of_last = || *STARTED.lock().unwrap().last().unwrap();
        // Stand-ins for the compiler: one that ends at once, one that runs until killed.
        spawn(Path::new("/bin/true"), &dir, None, &job).unwrap();
        let done = pid_of_last();
        let sleeper = dir.join("sleeper");
        std::fs::write(&sleeper, "#!/bin/sh\nexec sleep 60\n").unwrap();
        std::fs::set_permissions(&sleeper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        spawn(&sleeper, &dir, None, &job).unwrap();
        let running = pid_of_last();
        let state = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| s.rsplit(')').next().and_then(|r| r.split_whitespace().next()).map(str::to_string))
        };
        // Until reaped, the ended one is a zombie (what the shim was left with).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while state(done).as_deref() != Some("Z") {
            assert!(std::time::Instant::now() < deadline, "the stand-in did not end: {:?}", state(done));
            std::thread::sleep(Duration::from_millis(5));
        }
        reap_finished_background_compiles();
        assert_eq!(state(done), None, "the ended compile was reaped");
        assert!(STARTED.lock().unwrap().contains(&running), "a running compile stays listed");
        assert!(state(running).is_some_and(|s| s != "Z"));
        unsafe { libc::kill(running, libc::SIGKILL) };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while STARTED.lock().unwrap().contains(&running) {
            assert!(std::time::Instant::now() < deadline, "the killed compile was not reaped");
            reap_finished_background_compiles();
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(state(running), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_survives_the_header() {
        let p = Path::new("/var/lib/isola/mod\nules=x");
        assert_eq!(unhex_path(&hex_path(p)).unwrap(), p);
        assert!(unhex_path("zz").is_err());
    }
}
