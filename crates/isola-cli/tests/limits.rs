//! Limits and the default seccomp profile, proven on real cgroups and real syscalls.
//! Each probe first runs unconfined (the positive control) so a "blocked" can be trusted.

mod common;

use std::process::Command;

use common::*;

#[test]
fn memory_limit_oom_kills_a_64_mib_allocation() {
    let w = World::new("oom");
    // Positive control: the payload gets its 64 MiB without a limit.
    let control = w.bundle("control", &["/bin/memhog", "64"], |_| {});
    install_payload(&control, "memhog");
    let out = w.run(&["run", "--bundle", control.to_str().unwrap(), &w.id("oomctl")]);
    assert_eq!(out.status.code(), Some(0), "unlimited control: {}", stderr_of(&out));

    let id = w.id("oom");
    let bundle = w.bundle("b", &["/bin/memhog", "64"], |c| {
        c["linux"]["resources"] = serde_json::json!({"memory": {"limit": 32 << 20, "swap": 32 << 20}});
    });
    install_payload(&bundle, "memhog");
    let out = w.run(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(137), "OOM kill gives 128+9: {}", stderr_of(&out));
    w.assert_no_leftovers(&id);
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    let w = World::new("pids");
    let control = w.bundle("control", &["/bin/forkloop", "40"], |_| {});
    install_payload(&control, "forkloop");
    let out = w.run(&["run", "--bundle", control.to_str().unwrap(), &w.id("pidsctl")]);
    assert_eq!(out.status.code(), Some(1), "without a limit all 40 forks succeed: {}", stdout_of(&out));

    let id = w.id("pids");
    let bundle = w.bundle("b", &["/bin/forkloop", "40"], |c| {
        c["linux"]["resources"] = serde_json::json!({"pids": {"limit": 10}});
    });
    install_payload(&bundle, "forkloop");
    let out = w.run(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(0), "fork fails with EAGAIN under pids.max=10: {}", stdout_of(&out));
    w.assert_no_leftovers(&id);
}

#[test]
fn default_seccomp_blocks_user_namespaces_and_io_uring() {
    // Positive control: unconfined, as root, both calls succeed on this kernel.
    let native = Command::new(payload("kernel_surface")).output().unwrap();
    let native = stdout_of(&native);
    assert!(native.contains("unshare=ok") && native.contains("io_uring=ok"), "control: {native}");

    let w = World::new("seccomp");
    let id = w.id("sc");
    let bundle = w.bundle("b", &["/bin/kernel_surface"], |_| {});
    install_payload(&bundle, "kernel_surface");
    let out = w.run(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(text.contains("unshare=EPERM"), "{text}");
    assert!(text.contains("io_uring=EPERM"), "{text}");
}

#[test]
fn default_profile_leaves_ordinary_programs_working() {
    let w = World::new("seccomp-ok");
    let bundle = w.bundle("b", &["sh", "-c", "grep -q '^Seccomp:.*2' /proc/self/status && (echo sub) && ls / >/dev/null && echo fine"], |_| {});
    let out = w.run(&["run", "--bundle", bundle.to_str().unwrap(), &w.id("ok")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "sub\nfine\n");
}

#[test]
fn exec_processes_get_the_container_seccomp_filter() {
    let w = World::new("seccomp-exec");
    let id = w.id("scx");
    let bundle = w.bundle("b", &["sleep", "30"], |_| {});
    install_payload(&bundle, "kernel_surface");
    assert!(w.run(&["run", "-d", "--bundle", bundle.to_str().unwrap(), &id]).status.success());
    let out = w.run(&["exec", &id, "/bin/kernel_surface"]);
    assert!(stdout_of(&out).contains("unshare=EPERM"), "{}", stdout_of(&out));
    assert!(w.run(&["delete", "-f", &id]).status.success());
}

/// The cgroup's device rules hold on cgroup v1 (devices controller) and v2 (an eBPF program on
/// the cgroup, under both drivers). A node of an unassigned character device (240:0, "local /
/// experimental use") is made on the host and bound into the container (a node the spec lists
/// in `linux.devices` is allowed along with it, as under runc): where the cgroup allows 240:0,
/// `open` reaches the kernel's device lookup and fails with ENXIO (the positive control: nothing
/// else stands in the way); where it does not, the cgroup refuses it first, EPERM.
#[test]
fn a_device_the_cgroup_does_not_allow_cannot_be_opened() {
    let w = World::new("devices");
    let node = w.scratch.join("node");
    let c_node = std::ffi::CString::new(node.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mknod(c_node.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(240, 0)) }, 0, "mknod on the host");
    let probe = ["sh", "-c", "exec 3</isola-test"];
    let run = |name: &str, allow: bool| {
        let b = w.bundle(name, &probe, |c| {
            c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
                {"destination": "/isola-test", "type": "bind", "source": node.to_str().unwrap(), "options": ["bind"]}));
            if allow {
                c["linux"]["resources"] = serde_json::json!({"devices": [
                    {"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 240, "minor": 0, "access": "rw"}]});
            }
        });
        std::fs::write(b.join("rootfs/isola-test"), "").unwrap();
        let id = w.id(name);
        let out = w.run(&["run", "--bundle", b.to_str().unwrap(), &id]);
        w.assert_no_leftovers(&id);
        stderr_of(&out)
    };
    let allowed = run("allowed", true);
    assert!(allowed.contains("No such device or address"), "control, device allowed: {allowed}");
    let denied = run("denied", false);
    assert!(denied.contains("Operation not permitted"), "device not in the cgroup's rules: {denied}");
}
