//! The built-in seccomp profile, applied when a spec brings none.
//! It is Docker's default allow-list with the CAP_SYS_ADMIN-gated calls left out (isola never
//! grants that capability to untrusted code) and, beyond Docker, no `io_uring_*`, `userfaultfd`,
//! `bpf`, `perf_event_open`, `keyctl`, `add_key`, `request_key`, `ptrace` or `process_vm_*`.
//! Namespace creation is refused (clone with CLONE_NEW* flags, unshare, setns), `clone3` answers
//! ENOSYS so libc falls back to the filterable `clone`. Everything else fails with EPERM.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder, LinuxSeccompOperator, LinuxSyscall,
};

/// Syscalls allowed without conditions (x86_64 and i386 names; unknown names are skipped by
/// libseccomp per architecture).
pub const ALLOWED: &[&str] = &[
    "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk", "cachestat",
    "capget", "capset", "chdir", "chmod", "chown", "chown32", "chroot", "clock_adjtime",
    "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
    "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
    "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait", "eventfd", "eventfd2", "execve",
    "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
    "fallocate", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
    "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
    "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
    "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
    "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
    "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
    "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat",
    "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "mincore", "mkdir",
    "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect",
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
    "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
    "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
    "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_getfd", "pidfd_open",
    "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
    "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
    "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read",
    "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
    "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
    "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
    "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
    "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid",
    "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
    "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
    "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
    "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr",
    "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4",
    "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
    "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo",
    "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
    "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
    "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev",
];

/// Calls that Docker's profile allows and isola's refuses, kept here so a test can pin them.
pub const DENIED_BEYOND_DOCKER: &[&str] = &[
    "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "bpf",
    "perf_event_open", "keyctl", "add_key", "request_key", "ptrace", "process_vm_readv",
    "process_vm_writev", "personality",
];

/// Every CLONE_NEW* flag: clone(2) with any of them set is refused.
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x0000_0080 // CLONE_NEWTIME
    | 0x0002_0000 // CLONE_NEWNS
    | 0x0200_0000 // CLONE_NEWCGROUP
    | 0x0400_0000 // CLONE_NEWUTS
    | 0x0800_0000 // CLONE_NEWIPC
    | 0x1000_0000 // CLONE_NEWUSER
    | 0x2000_0000 // CLONE_NEWPID
    | 0x4000_0000; // CLONE_NEWNET

/// Socket families a tenant may open: unix, inet, inet6, netlink. Everything else
/// (AF_PACKET, AF_ALG, AF_VSOCK, AF_TIPC, ...) is refused, which also stops module autoload
/// through rare families.
pub const SOCKET_FAMILIES: &[u64] = &[1, 2, 10, 16];

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

fn rule(names: &[&str], action: LinuxSeccompAction, errno: Option<u32>, args: Vec<LinuxSeccompArg>) -> LinuxSyscall {
    let mut rule = LinuxSyscall::default();
    rule.set_names(names.iter().map(|s| s.to_string()).collect());
    rule.set_action(action);
    rule.set_errno_ret(errno);
    rule.set_args(if args.is_empty() { None } else { Some(args) });
    rule
}

fn arg(index: usize, op: LinuxSeccompOperator, value: u64, value_two: Option<u64>) -> LinuxSeccompArg {
    let mut b = LinuxSeccompArgBuilder::default().index(index).op(op).value(value);
    if let Some(two) = value_two {
        b = b.value_two(two);
    }
    b.build().expect("every field of a seccomp argument is set")
}

/// The built-in profile of a wasm container: the same rules, for x86_64 only. The only program
/// such a container runs is isola's own x86_64 wasm host, so the 32-bit tables (x86, x32), two
/// thirds of the compiled filter (965 -> 318 BPF instructions), would only cost load time.
pub fn wasm_container_profile() -> LinuxSeccomp {
    let mut profile = default_profile();
    profile.set_architectures(Some(vec![Arch::ScmpArchX86_64]));
    profile
}

/// The built-in profile for Linux containers of untrusted code.
pub fn default_profile() -> LinuxSeccomp {
    let allow = LinuxSeccompAction::ScmpActAllow;
    let mut rules = vec![rule(ALLOWED, allow, None, vec![])];
    // clone without namespace flags (arg 0 on x86_64).
    rules.push(rule(
        &["clone"],
        allow,
        None,
        vec![arg(0, LinuxSeccompOperator::ScmpCmpMaskedEq, CLONE_NAMESPACE_FLAGS, Some(0))],
    ));
    // clone3 hides its flags in memory, out of seccomp's sight: answer ENOSYS, libc falls back.
    rules.push(rule(&["clone3"], LinuxSeccompAction::ScmpActErrno, Some(ENOSYS), vec![]));
    for family in SOCKET_FAMILIES {
        rules.push(rule(
            &["socket"],
            allow,
            None,
            vec![arg(0, LinuxSeccompOperator::ScmpCmpEq, *family, None)],
        ));
    }
    let mut profile = LinuxSeccomp::default();
    profile.set_default_action(LinuxSeccompAction::ScmpActErrno);
    profile.set_default_errno_ret(Some(EPERM));
    profile.set_architectures(Some(vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]));
    profile.set_syscalls(Some(rules));
    profile
}

/// What the wasm host process still calls once its guest is instantiated (recorded with
/// `strace -f` over the wasm test suite: WASI file and clock calls, memory growth, the tokio
/// threads of wasmtime-wasi, trap signals). Installed on top of the container's profile, so a
/// call must pass both.
pub const WASM_HOST_ALLOWED: &[&str] = &[
    // I/O on descriptors the guest was given.
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev",
    "pwritev2", "lseek", "close", "dup", "dup3", "fcntl", "fsync", "fdatasync", "ftruncate",
    "fallocate", "fadvise64", "flock", "sendfile", "copy_file_range",
    // WASI path operations, relative to preopened directories.
    "openat", "openat2", "newfstatat", "fstat", "statx", "statfs", "fstatfs", "getdents64",
    "readlink", "readlinkat", "mkdirat", "unlinkat", "renameat", "renameat2", "symlinkat",
    "linkat", "utimensat", "faccessat", "faccessat2", "getcwd",
    // Memory: growth and guard pages (executable mappings are ruled out below).
    "munmap", "madvise", "mremap", "brk", "membarrier",
    // Threads of the host (tokio workers, the timeout watchdog) and their synchronisation.
    "futex", "set_robust_list", "get_robust_list", "rseq", "sched_yield", "sched_getaffinity",
    "gettid", "getpid", "getppid", "exit", "exit_group", "tgkill",
    // Signals: traps are SIGSEGV/SIGILL handled by wasmtime on an alternate stack.
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
    // Clocks, sleeping, polling, randomness.
    "clock_gettime", "clock_getres", "gettimeofday", "nanosleep", "clock_nanosleep",
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
    "poll", "ppoll", "pselect6", "getrandom",
    // Identity and limits, read only.
    "getuid", "geteuid", "getgid", "getegid", "uname", "getrlimit", "prlimit64",
];

/// Calls the wasm host never needs after instantiation, refused even when the container's
/// own profile allows them: a guest that escaped the wasm sandbox cannot start a program,
/// open a socket, fork, or map new executable code.
pub const WASM_HOST_DENIED: &[&str] = &[
    "execve", "execveat", "fork", "vfork", "socket", "socketpair", "connect", "bind", "listen",
    "accept", "accept4", "sendto", "sendmsg", "recvfrom", "recvmsg", "kill", "ptrace",
    "process_vm_readv", "process_vm_writev", "memfd_create", "pkey_mprotect", "mount", "unshare",
    "setns", "chroot", "setuid", "setgid", "capset", "ioprio_set", "io_uring_setup",
];

const CLONE_THREAD: u64 = 0x0001_0000;
const PROT_EXEC: u64 = 0x4;
const TCGETS: u64 = 0x5401;
const TIOCGWINSZ: u64 = 0x5413;
const FIONREAD: u64 = 0x541b;
const FIONBIO: u64 = 0x5421;
const PR_SET_NAME: u64 = 15;
const PR_GET_NAME: u64 = 16;

/// The wasm host's own profile, installed after the guest is instantiated and before it runs.
/// x86_64 only (a 32-bit or x32 syscall from the host process can only be an attack); clone only
/// for threads; mmap/mprotect never with PROT_EXEC (the code was mapped before); ioctl only for
/// the terminal queries of stdio; prctl only to name threads.
pub fn wasm_host_profile() -> LinuxSeccomp {
    use LinuxSeccompOperator::{ScmpCmpEq, ScmpCmpMaskedEq};
    let allow = LinuxSeccompAction::ScmpActAllow;
    let mut rules = vec![rule(WASM_HOST_ALLOWED, allow, None, vec![])];
    rules.push(rule(&["clone"], allow, None, vec![arg(0, ScmpCmpMaskedEq, CLONE_THREAD, Some(CLONE_THREAD))]));
    rules.push(rule(&["clone3"], LinuxSeccompAction::ScmpActErrno, Some(ENOSYS), vec![]));
    rules.push(rule(&["mmap", "mprotect"], allow, None, vec![arg(2, ScmpCmpMaskedEq, PROT_EXEC, Some(0))]));
    for request in [TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO] {
        rules.push(rule(&["ioctl"], allow, None, vec![arg(1, ScmpCmpEq, request, None)]));
    }
    for option in [PR_SET_NAME, PR_GET_NAME] {
        rules.push(rule(&["prctl"], allow, None, vec![arg(0, ScmpCmpEq, option, None)]));
    }
    let mut profile = LinuxSeccomp::default();
    profile.set_default_action(LinuxSeccompAction::ScmpActErrno);
    profile.set_default_errno_ret(Some(EPERM));
    profile.set_architectures(Some(vec![Arch::ScmpArchX86_64]));
    profile.set_syscalls(Some(rules));
    profile
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_denies_by_default_with_eperm() {
        let p = default_profile();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(EPERM));
    }

    #[test]
    fn kernel_surface_calls_are_not_allowed() {
        let p = default_profile();
        let allowed: Vec<&String> = p
            .syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
            .flat_map(|r| r.names().iter())
            .collect();
        for denied in DENIED_BEYOND_DOCKER
            .iter()
            .chain(&["unshare", "setns", "mount", "umount2", "pivot_root", "init_module", "finit_module", "syslog"])
        {
            assert!(!allowed.iter().any(|n| n == denied), "{denied} is allowed");
        }
    }

    #[test]
    fn clone_is_allowed_only_without_namespace_flags() {
        let p = default_profile();
        let clone = p.syscalls().as_ref().unwrap().iter().find(|r| r.names() == &["clone".to_string()]).unwrap();
        let a = &clone.args().as_ref().unwrap()[0];
        assert_eq!(a.op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
        assert_eq!(a.value() & 0x1000_0000, 0x1000_0000, "CLONE_NEWUSER must be in the mask");
        assert_eq!(a.value_two(), Some(0));
    }

    #[test]
    fn wasm_host_profile_allows_none_of_the_denied_calls() {
        let p = wasm_host_profile();
        let named: Vec<&String> = p.syscalls().as_ref().unwrap().iter().flat_map(|r| r.names().iter()).collect();
        for denied in WASM_HOST_DENIED {
            assert!(!named.iter().any(|n| n == denied), "{denied} is named by a rule");
        }
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.architectures().as_deref(), Some(&[Arch::ScmpArchX86_64][..]));
    }

    #[test]
    fn wasm_host_maps_nothing_executable_and_clones_only_threads() {
        let p = wasm_host_profile();
        let rules = p.syscalls().as_ref().unwrap();
        let conditional = |name: &str| rules.iter().find(|r| r.names().iter().any(|n| n == name) && r.args().is_some());
        for name in ["mmap", "mprotect"] {
            let a = &conditional(name).unwrap().args().as_ref().unwrap()[0];
            assert_eq!((a.index(), a.value(), a.value_two()), (2, PROT_EXEC, Some(0)), "{name}");
        }
        let a = &conditional("clone").unwrap().args().as_ref().unwrap()[0];
        assert_eq!((a.value(), a.value_two()), (CLONE_THREAD, Some(CLONE_THREAD)));
        assert!(!WASM_HOST_ALLOWED.iter().any(|n| ["mmap", "mprotect", "clone", "ioctl"].contains(n)));
    }
}
