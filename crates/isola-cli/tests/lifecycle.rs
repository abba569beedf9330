//! The OCI lifecycle through the `isola` binary, as containerd's shim drives it, on real
//! namespaces and cgroups (run as root).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

#[test]
fn busybox_container_goes_through_created_running_stopped() {
    let w = World::new("lifecycle");
    let id = w.id("life");
    let bundle = w.bundle("b", &["sleep", "30"], |_| {});
    let pid_file = w.scratch.join("init.pid");
    let out = w.run(&["create", "--bundle", bundle.to_str().unwrap(), "--pid-file", pid_file.to_str().unwrap(), &id]);
    assert!(out.status.success(), "create: {}", stderr_of(&out));

    let state = w.state(&id);
    assert_eq!(state["status"], "created");
    let pid = state["pid"].as_i64().unwrap();
    assert!(pid > 0);
    let written: i64 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert_eq!(written, pid, "pid file holds the init's pid");
    assert_eq!(state["bundle"], bundle.to_str().unwrap());

    assert!(w.run(&["start", &id]).status.success());
    assert_eq!(w.state(&id)["status"], "running");
    assert_eq!(w.state(&id)["pid"].as_i64().unwrap(), pid);

    let out = w.run(&["kill", &id, "KILL"]);
    assert!(out.status.success(), "kill: {}", stderr_of(&out));
    wait_until("stopped", || w.state(&id)["status"] == "stopped");

    let out = w.run(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", stderr_of(&out));
    w.assert_no_leftovers(&id);
    assert!(!w.run(&["state", &id]).status.success(), "state of a deleted container fails");
}

#[test]
fn run_delivers_stdout_stderr_and_the_exit_code() {
    let w = World::new("stdio");
    let id = w.id("stdio");
    let bundle = w.bundle("b", &["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7"], |_| {});
    let out = w.run(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stdout_of(&out), "to-stdout\n");
    assert_eq!(stderr_of(&out), "to-stderr\n");
    w.assert_no_leftovers(&id);
}

#[test]
fn options_may_follow_the_container_id() {
    let w = World::new("optorder");
    let id = w.id("order");
    let bundle = w.bundle("b", &["true"], |_| {});
    let out = w.run(&["run", &id, "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

/// containerd sends `kill --all ID 9` after every exit; under the systemd driver the scope's
/// cgroup is gone by then (systemd removes an empty scope). As under runc, a stopped container
/// without a cgroup has nothing to signal: success, not an error (containerd retried it
/// forever and the pod never saw its container exit). Here the cgroup is removed by hand.
#[test]
fn kill_all_of_a_stopped_container_whose_cgroup_is_gone_succeeds() {
    let w = World::new("killall");
    let id = w.id("gone");
    let bundle = w.bundle("b", &["true"], |_| {});
    let out = w.run(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "create: {}", stderr_of(&out));
    assert!(w.run(&["start", &id]).status.success());
    wait_until("stopped", || w.state(&id)["status"] == "stopped");
    let controllers: Vec<String> = if cgroup_v2() {
        vec![String::new()]
    } else {
        std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()
    };
    wait_until("the cgroup is gone", || {
        for c in &controllers {
            let _ = std::fs::remove_dir(cgroup_dir(&id, c));
        }
        controllers.iter().all(|c| !cgroup_dir(&id, c).exists())
    });
    let out = w.run(&["kill", "--all", &id, "9"]);
    assert!(out.status.success(), "kill --all: {}", stderr_of(&out));
    let out = w.run(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", stderr_of(&out));
    w.assert_no_leftovers(&id);
}

#[test]
fn a_killed_workload_exits_128_plus_the_signal() {
    let w = World::new("signal");
    let id = w.id("sig");
    let bundle = w.bundle("b", &["sleep", "30"], |_| {});
    let child = w
        .isola()
        .args(["run", "--bundle", bundle.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("running", || {
        let out = w.run(&["state", &id]);
        out.status.success() && serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["status"] == "running"
    });
    let kill = w.run(&["kill", &id, "9"]);
    assert!(kill.status.success(), "kill: {}", stderr_of(&kill));
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(137));
    w.assert_no_leftovers(&id);
}

#[test]
fn foreground_run_forwards_sigterm_to_the_workload() {
    let w = World::new("forward");
    let id = w.id("fwd");
    // A shell as pid 1 ignores SIGTERM unless it traps it: trap and exit 42.
    let bundle = w.bundle("b", &["sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.05; done"], |_| {});
    let child = w.isola().args(["run", "--bundle", bundle.to_str().unwrap(), &id]).stdin(Stdio::null()).spawn().unwrap();
    wait_until("running", || w.run(&["state", &id]).status.success() && w.state(&id)["status"] == "running");
    std::thread::sleep(std::time::Duration::from_millis(100));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(42));
}

#[test]
fn exec_ps_pause_resume_update_and_list() {
    let w = World::new("exec");
    let id = w.id("ex");
    let bundle = w.bundle("b", &["sleep", "30"], |c| {
        c["linux"]["resources"] = serde_json::json!({"pids": {"limit": 50}});
    });
    let out = w.run(&["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let init = w.state(&id)["pid"].as_i64().unwrap();

    let out = w.run(&["exec", &id, "sh", "-c", "echo from-exec; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "from-exec\n");

    // An exec that asks for CAP_SYS_ADMIN is clamped like the container.
    let process = serde_json::json!({
        "terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/",
        "args": ["grep", "CapEff", "/proc/self/status"],
        "env": ["PATH=/bin"],
        "capabilities": {"bounding": ["CAP_SYS_ADMIN", "CAP_KILL"], "effective": ["CAP_SYS_ADMIN", "CAP_KILL"], "permitted": ["CAP_SYS_ADMIN", "CAP_KILL"]},
        "noNewPrivileges": false
    });
    let pfile = w.scratch.join("process.json");
    std::fs::write(&pfile, process.to_string()).unwrap();
    let out = w.run(&["exec", "--process", pfile.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let capeff = u64::from_str_radix(stdout_of(&out).split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(capeff & (1 << 21), 0, "CAP_SYS_ADMIN was dropped");
    assert_ne!(capeff & (1 << 5), 0, "CAP_KILL was kept");

    let out = w.run(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pids.contains(&init), "ps lists the init pid {init}: {pids:?}");

    assert!(w.run(&["pause", &id]).status.success());
    assert_eq!(w.state(&id)["status"], "paused");
    assert!(w.run(&["resume", &id]).status.success());
    assert_eq!(w.state(&id)["status"], "running");

    let res = w.scratch.join("resources.json");
    std::fs::write(&res, r#"{"pids": {"limit": 77}}"#).unwrap();
    let out = w.run(&["update", "--resources", res.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let max = std::fs::read_to_string(common::cgroup_dir(&id, "pids").join("pids.max")).unwrap();
    assert_eq!(max.trim(), "77");

    let list = w.run(&["list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert!(list.as_array().unwrap().iter().any(|s| s["id"] == id.as_str()));

    assert!(!w.run(&["delete", &id]).status.success(), "a running container needs --force");
    assert!(w.run(&["delete", "--force", &id]).status.success());
    w.assert_no_leftovers(&id);
}

#[test]
fn features_and_spec_print_valid_documents() {
    let w = World::new("features");
    let out = w.run(&["features"]);
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    let out = w.isola().args(["spec", "--bundle", w.scratch.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success());
    let spec: serde_json::Value = serde_json::from_slice(&std::fs::read(w.scratch.join("config.json")).unwrap()).unwrap();
    assert!(spec["ociVersion"].as_str().unwrap().starts_with("1."));
    let again = w.isola().args(["spec", "--bundle", w.scratch.to_str().unwrap()]).output().unwrap();
    assert!(!again.status.success(), "spec refuses to overwrite config.json");
}

#[test]
fn json_log_gets_the_error_for_containerd() {
    let w = World::new("jsonlog");
    let log = w.scratch.join("log.json");
    let out = w
        .isola()
        .args(["--log", log.to_str().unwrap(), "--log-format", "json", "state", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("does not exist"));
    assert!(last["time"].is_string());
}

#[test]
fn exactly_one_of_racing_creates_wins() {
    let w = World::new("race");
    let id = w.id("race");
    let bundle = w.bundle("b", &["sleep", "30"], |_| {});
    let results: Vec<_> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..6)
            .map(|_| s.spawn(|| w.run(&["create", "--bundle", bundle.to_str().unwrap(), &id])))
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let winners = results.iter().filter(|o| o.status.success()).count();
    assert_eq!(winners, 1, "{:?}", results.iter().map(stderr_of).collect::<Vec<_>>());
    for loser in results.iter().filter(|o| !o.status.success()) {
        assert!(stderr_of(loser).contains("already exists"), "{}", stderr_of(loser));
    }
    assert_eq!(w.state(&id)["status"], "created", "the winner's container is intact");
    assert!(w.run(&["delete", "--force", &id]).status.success());
    w.assert_no_leftovers(&id);
}

#[test]
fn delete_force_cleans_up_after_a_create_killed_half_way() {
    let w = World::new("sigkill");
    // A createRuntime hook that sleeps holds create in the middle: cgroup made, init waiting.
    let bundle = w.bundle("b", &["sleep", "30"], |c| {
        c["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "3"]}]});
    });
    for delay_ms in [0u64, 5, 20, 60, 300] {
        let id = w.id("half");
        let mut child = w
            .isola()
            .args(["create", "--bundle", bundle.to_str().unwrap(), &id])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if delay_ms >= 300 {
            // By now (or soon: the hook sleeps 3 s) create is inside the hook: state claimed
            // and cgroup made.
            wait_until("create to claim its state dir and make its cgroup", || {
                w.root.join(&id).exists() && common::cgroup_dir(&id, "pids").exists()
            });
        }
        let _ = child.kill();
        let _ = child.wait();
        let out = w.run(&["delete", "--force", &id]);
        assert!(out.status.success(), "delete --force after kill at {delay_ms} ms: {}", stderr_of(&out));
        w.assert_no_leftovers(&id);
    }
    // The hook's sleeps are bounded (3 s) and belong to no container.
    let _ = Command::new("pkill").args(["-f", "^sleep 3$"]).status();
}

/// runc and execvp(3) take an `args[0]` with a slash as a path: images without an `Env` (a
/// pause image, anything `isola image` builds) carry no PATH and must still run.
#[test]
fn an_absolute_entrypoint_runs_without_path_but_a_bare_name_needs_it() {
    let w = World::new("nopath");
    let id = w.id("abs");
    let bundle = w.bundle("b", &["/bin/busybox", "echo", "no-path-needed"], |c| c["process"]["env"] = serde_json::json!([]));
    let out = w.run(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "no-path-needed\n");
    w.assert_no_leftovers(&id);

    let id = w.id("bare");
    let bundle = w.bundle("c", &["busybox", "true"], |c| c["process"]["env"] = serde_json::json!([]));
    let out = w.run(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("PATH"), "{}", stderr_of(&out));
    w.assert_no_leftovers(&id);

    let id = w.id("noexec");
    let bundle = w.bundle("d", &["/bin/plain-file"], |_| {});
    std::fs::write(bundle.join("rootfs/bin/plain-file"), "not a program").unwrap();
    let out = w.run(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("execute permission"), "{}", stderr_of(&out));
    w.assert_no_leftovers(&id);
}

/// The pty master a container's init (or exec) sends on the console socket, as runc's callers
/// (containerd's runc shim, podman's conmon) receive it.
fn receive_pty(listener: &std::os::unix::net::UnixListener) -> std::os::fd::OwnedFd {
    use std::os::fd::{AsRawFd, FromRawFd};
    listener.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + bound_ms(5000);
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => panic!("no connection on the console socket: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(bound_ms(5000))).unwrap();
    let mut name = [0u8; 64];
    let mut iov = libc::iovec { iov_base: name.as_mut_ptr().cast(), iov_len: name.len() };
    let mut control = [0u64; 8];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, 0) };
    assert!(n > 0, "recvmsg on the console socket: {}", std::io::Error::last_os_error());
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    assert!(!cmsg.is_null(), "the console socket's message carries no descriptor");
    assert_eq!(unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) }, (libc::SOL_SOCKET, libc::SCM_RIGHTS));
    let fd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const i32) };
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// Reads a pty master until `want` has been seen, or its other side is gone (EIO).
fn read_pty_until(master: &std::os::fd::OwnedFd, want: &str) -> String {
    use std::os::fd::AsRawFd;
    let deadline = std::time::Instant::now() + bound_ms(10_000);
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains(want) && std::time::Instant::now() < deadline {
        let mut pfd = libc::pollfd { fd: master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n as usize]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[test]
fn a_terminal_is_handed_over_on_the_console_socket_for_the_init_and_for_an_exec() {
    let w = World::new("tty");
    let id = w.id("tty");
    let bundle = w.bundle("b", &["sh", "-c", "test -t 0 && test -t 1 && echo init-has-a-tty; read line; echo got:$line; sleep 30"], |c| {
        c["process"]["terminal"] = true.into();
    });
    let socket = w.scratch.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let out = w.run(&["create", "--console-socket", socket.to_str().unwrap(), "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let master = receive_pty(&listener);
    let out = w.run(&["start", &id]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let seen = read_pty_until(&master, "init-has-a-tty");
    assert!(seen.contains("init-has-a-tty"), "the init's stdio is the terminal: {seen:?}");
    std::fs::File::from(master.try_clone().unwrap()).write_all(b"hello\n").unwrap();
    let seen = read_pty_until(&master, "got:hello");
    assert!(seen.contains("got:hello"), "input typed on the terminal reaches the init: {seen:?}");

    // `exec -t`: a terminal of its own, on the same socket.
    let out = w.run(&["exec", "--tty", "--detach", "--console-socket", socket.to_str().unwrap(), &id, "sh", "-c", "test -t 1 && echo exec-has-a-tty"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let exec_master = receive_pty(&listener);
    let seen = read_pty_until(&exec_master, "exec-has-a-tty");
    assert!(seen.contains("exec-has-a-tty"), "the exec's stdio is a terminal: {seen:?}");

    assert!(w.run(&["delete", "--force", &id]).status.success());
    w.assert_no_leftovers(&id);
}
