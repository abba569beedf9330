//! The CRI path end to end, as the kubelet drives it: a private containerd 1.6 with the `isola`
//! handler (installed by `isola install`), images built by `isola image`, pods over the CRI, and
//! `ctr run --runc-binary isola`. Needs root. One containerd per test binary: every case runs in
//! the one #[test] below, in order, each reported on stderr; then the teardown is asserted.

use anyhow::{bail, ensure, Context, Result};
use isola_e2e::cri::{read_log, wasm_annotations, ContainerSpec, ContainerState, Cri, Pod, PodSpec};
use isola_e2e::harness::*;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const MIB: i64 = 1 << 20;

/// A pod on `handler` (named after it too: a case runs once per handler).
fn pod(h: &Harness, handler: &str, name: &str, wasm: bool) -> PodSpec {
    PodSpec {
        name: format!("{name}-{handler}"),
        handler: handler.to_owned(),
        annotations: if wasm {
            wasm_annotations()
        } else {
            HashMap::new()
        },
        log_root: h.layout.pod_logs.clone(),
        cgroup_root: h.layout.cgroup_root.clone(),
    }
}

fn container(name: &str, image: &str, wasm: bool) -> ContainerSpec {
    ContainerSpec {
        name: name.to_owned(),
        image: image.to_owned(),
        annotations: if wasm {
            wasm_annotations()
        } else {
            HashMap::new()
        },
        ..Default::default()
    }
}

/// Waits until the container's CRI log has a line containing `needle`.
async fn wait_log(cri: &Cri, id: &str, needle: &str, timeout: Duration) -> Result<Vec<String>> {
    let deadline = Instant::now() + timeout;
    loop {
        let st = cri.status(id).await?;
        let lines = read_log(std::path::Path::new(&st.log_path)).unwrap_or_default();
        if lines.iter().any(|l| l.contains(needle)) {
            return Ok(lines);
        }
        if Instant::now() > deadline {
            bail!("container {id}: no log line with {needle:?} after {timeout:?}; log: {lines:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs one container to completion in a fresh pod; returns (exit code, reason, log lines) and
/// removes container and pod the kubelet's way.
async fn run_to_exit(
    h: &Harness,
    pod_spec: PodSpec,
    spec: ContainerSpec,
) -> Result<(i32, String, Vec<String>)> {
    let cri = h.cri();
    let pod = cri.run_pod(&pod_spec).await?;
    // The RuntimeClass really routed to isola: its state holds the pause container.
    let sandbox_state = h.isola_state_dir(&pod.id);
    ensure!(
        sandbox_state.is_dir(),
        "sandbox {} has no isola state at {}: not run by isola",
        pod.id,
        sandbox_state.display()
    );
    let id = cri.create_container(&pod, &spec).await?;
    cri.start_container(&id).await?;
    let st = cri.wait_exited(&id, isola_e2e::scaled(Duration::from_secs(60))).await?;
    let lines = read_log(std::path::Path::new(&st.log_path))?;
    cri.stop_and_remove_container(&id, 0).await?;
    cri.stop_and_remove_pod(&pod.id).await?;
    Ok((st.exit_code, st.reason, lines))
}

async fn wasm_pod_runs_module_and_logs_its_line(h: &Harness, handler: &str) -> Result<()> {
    let mut spec = container("hello", HELLO_WASM, true);
    spec.args = vec!["one".into(), "two words".into()];
    spec.envs = vec![("E2E_GREETING".into(), "hi".into())];
    let (code, reason, log) = run_to_exit(h, pod(h, handler, "wasm-hello", true), spec).await?;
    ensure!(
        code == 0 && reason == "Completed",
        "exit {code} ({reason}); log {log:?}"
    );
    for want in [
        "isola-e2e hello from wasm",
        "arg 1=one",
        "arg 2=two words",
        "env E2E_GREETING=hi",
    ] {
        ensure!(log.iter().any(|l| l == want), "log lacks {want:?}: {log:?}");
    }
    Ok(())
}

async fn linux_container_runs_on_isola_handler(h: &Harness, handler: &str) -> Result<()> {
    let (code, reason, log) = run_to_exit(
        h,
        pod(h, handler, "native-hello", false),
        container("hello", HELLO_NATIVE, false),
    )
    .await?;
    ensure!(
        code == 0 && reason == "Completed",
        "exit {code} ({reason}); log {log:?}"
    );
    ensure!(
        log.iter().any(|l| l == "isola-e2e hello from native"),
        "log {log:?}"
    );
    Ok(())
}

async fn mixed_pod_runs_wasm_app_beside_linux_sidecar(h: &Harness, handler: &str) -> Result<()> {
    let cri = h.cri();
    let pod = cri.run_pod(&pod(h, handler, "mixed", true)).await?;
    // Both carry compat-smart: the runtime must sniff args[0] and run only the module as wasm.
    let app = cri
        .create_container(&pod, &container("app", SLEEPER_WASM, true))
        .await?;
    let sidecar = cri
        .create_container(&pod, &container("sidecar", SLEEPER_NATIVE, true))
        .await?;
    cri.start_container(&app).await?;
    cri.start_container(&sidecar).await?;
    let t = isola_e2e::scaled(Duration::from_secs(20));
    wait_log(cri, &app, "isola-e2e sleeper wasm started", t).await?;
    wait_log(cri, &sidecar, "isola-e2e sleeper native started", t).await?;
    for id in [&app, &sidecar] {
        let st = cri.status(id).await?;
        ensure!(
            st.state == ContainerState::ContainerRunning as i32,
            "{id} not running: {st:?}"
        );
    }
    for id in [&app, &sidecar] {
        cri.stop_and_remove_container(id, 1).await?;
    }
    cri.stop_and_remove_pod(&pod.id).await
}

async fn wasm_memory_limit_stops_the_hog(h: &Harness, handler: &str) -> Result<()> {
    let mut spec = container("memhog", MEMHOG_WASM, true);
    spec.memory_limit = Some(64 * MIB);
    let (code, reason, log) = run_to_exit(h, pod(h, handler, "memhog", true), spec).await?;
    let highest = log
        .iter()
        .filter_map(|l| {
            l.strip_prefix("isola-e2e memhog: ")?
                .strip_suffix(" MiB")?
                .parse::<i64>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    ensure!(
        code != 0,
        "the hog exited 0 under a 64 MiB limit ({reason}); log tail {:?}",
        tail(&log)
    );
    ensure!(
        !log.iter().any(|l| l.contains("reached 512 MiB")),
        "the hog reached 512 MiB: {:?}",
        tail(&log)
    );
    ensure!(
        (8..=64).contains(&highest),
        "the hog got {highest} MiB (expected 8..=64); exit {code} ({reason}); log tail {:?}",
        tail(&log)
    );
    eprintln!(
        "    memhog: exit {code} ({reason}), highest {highest} MiB, last line {:?}",
        log.last()
    );
    Ok(())
}

async fn stop_container_kills_long_running_wasm_quickly(h: &Harness, handler: &str) -> Result<()> {
    let cri = h.cri();
    let pod = cri.run_pod(&pod(h, handler, "sleeper", true)).await?;
    let id = cri
        .create_container(&pod, &container("sleeper", SLEEPER_WASM, true))
        .await?;
    cri.start_container(&id).await?;
    wait_log(
        cri,
        &id,
        "isola-e2e sleeper wasm started",
        isola_e2e::scaled(Duration::from_secs(20)),
    )
    .await?;
    let t = Instant::now();
    cri.stop_container(&id, 2).await?;
    let took = t.elapsed();
    let st = cri.status(&id).await?;
    ensure!(
        st.state == ContainerState::ContainerExited as i32,
        "state after StopContainer: {st:?}"
    );
    ensure!(
        took < isola_e2e::scaled(Duration::from_secs(10)),
        "StopContainer took {took:?} (timeout 2 s)"
    );
    let log = read_log(std::path::Path::new(&st.log_path))?;
    ensure!(
        !log.iter().any(|l| l.contains("sleeper wasm done")),
        "it ran to its end: {log:?}"
    );
    eprintln!(
        "    StopContainer took {took:?}, exit {} ({})",
        st.exit_code, st.reason
    );
    cri.remove_container(&id).await?;
    cri.stop_and_remove_pod(&pod.id).await
}

/// A file of the cgroup that `pid` is in, for `controller` on v1 (on v2 every controller has
/// the one directory): `/sys/fs/cgroup[/controller]/<path>/<file>`.
fn cgroup_file(pid: u32, controller: &str, file: &str) -> Result<std::path::PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let rel = path.trim_start_matches('/');
        if controllers.is_empty() && cgroup_v2() {
            return Ok(std::path::Path::new("/sys/fs/cgroup").join(rel).join(file));
        }
        if controllers.split(',').any(|c| c == controller) {
            return Ok(std::path::Path::new("/sys/fs/cgroup").join(controller).join(rel).join(file));
        }
    }
    bail!("no {controller} cgroup in /proc/{pid}/cgroup: {text:?}")
}

/// A cgroup v2 node (the unified hierarchy at the root), not v1 or hybrid.
fn cgroup_v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The init pid of a CRI container, from `isola state` under the root the runc shim gives it.
fn state_pid(h: &Harness, id: &str) -> Result<u32> {
    let out = Command::new(&h.isola)
        .arg("--root")
        .arg(h.layout.isola_root.join(K8S_NAMESPACE))
        .args(["state", id])
        .output()
        .context("running isola state")?;
    ensure!(out.status.success(), "isola state {id}: {}", String::from_utf8_lossy(&out.stderr).trim());
    let state: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    state["pid"].as_u64().map(|p| p as u32).with_context(|| format!("isola state {id}: no pid"))
}

fn ctr(h: &Harness, args: &[&str]) -> Result<String> {
    let out = h
        .layout
        .ctr(K8S_NAMESPACE)
        .args(args)
        .output()
        .context("running ctr")?;
    ensure!(
        out.status.success(),
        "ctr {args:?}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The runtime's `update`, `ps`, `pause` and `resume` as containerd drives them: the CRI's
/// UpdateContainerResources, then `ctr task ps|pause|resume` (the runc shim calls the runtime's
/// command for each), checked in the container's cgroup (v1 freezer, or v2 `cgroup.freeze`).
async fn update_ps_pause_resume_of_a_running_container(h: &Harness, handler: &str) -> Result<()> {
    let cri = h.cri();
    let pod = cri.run_pod(&pod(h, handler, "resizable", false)).await?;
    let mut spec = container("sleeper", SLEEPER_NATIVE, false);
    spec.memory_limit = Some(64 * MIB);
    let id = cri.create_container(&pod, &spec).await?;
    cri.start_container(&id).await?;
    cri.wait_state(&id, ContainerState::ContainerRunning, isola_e2e::scaled(Duration::from_secs(20)))
        .await?;
    let pid = state_pid(h, &id)?;
    let (limit_file, v1) = if cgroup_v2() {
        (cgroup_file(pid, "memory", "memory.max")?, false)
    } else {
        (cgroup_file(pid, "memory", "memory.limit_in_bytes")?, true)
    };
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map(|t| t.trim().to_owned()).unwrap_or_default();
    ensure!(read(&limit_file) == (64 * MIB).to_string(), "memory limit before the update: {}", read(&limit_file));
    cri.update_memory_limit(&id, 96 * MIB).await?;
    ensure!(read(&limit_file) == (96 * MIB).to_string(), "memory limit after UpdateContainerResources: {}", read(&limit_file));

    let (cpu_ns, working_set) = cri.container_stats(&id).await?;
    ensure!(cpu_ns > 0 && working_set > 0, "ContainerStats: cpu {cpu_ns} ns, working set {working_set} bytes");

    let ps = ctr(h, &["task", "ps", &id])?;
    ensure!(ps.lines().any(|l| l.split_whitespace().next() == Some(&pid.to_string())), "ctr task ps lists no pid {pid}: {ps:?}");

    let frozen = || -> Result<bool> {
        Ok(if v1 {
            read(&cgroup_file(pid, "freezer", "freezer.state")?) == "FROZEN"
        } else {
            read(&cgroup_file(pid, "memory", "cgroup.events")?).lines().any(|l| l == "frozen 1")
        })
    };
    ctr(h, &["task", "pause", &id])?;
    ensure!(frozen()?, "the cgroup is not frozen after ctr task pause");
    ensure!(ctr(h, &["task", "ls"])?.lines().any(|l| l.contains(&id) && l.contains("PAUSED")), "ctr task ls does not say PAUSED");
    ctr(h, &["task", "resume", &id])?;
    ensure!(!frozen()?, "the cgroup is still frozen after ctr task resume");
    cri.wait_state(&id, ContainerState::ContainerRunning, isola_e2e::scaled(Duration::from_secs(5)))
        .await?;
    eprintln!("    memory limit 64 -> 96 MiB in {}, stats cpu {cpu_ns} ns and {working_set} bytes, ps listed pid {pid}, paused and resumed", limit_file.display());
    cri.stop_and_remove_container(&id, 2).await?;
    cri.stop_and_remove_pod(&pod.id).await
}

/// `ctr run --runc-binary isola --rm` with the wasm image; ctr 1.6 passes OCI annotations with
/// `--annotation`, so both selectors that sniff the module are tried.
fn ctr_run_with_isola_binary_runs_wasm(h: &Harness) -> Result<()> {
    let ns = &h.layout.ctr_namespace;
    isola_e2e::images::import(&h.layout, ns, &h.image_tar(HELLO_WASM))?;
    for (i, annotation) in [
        "module.wasm.image/variant=compat-smart",
        "io.isola.mode=auto",
    ]
    .iter()
    .enumerate()
    {
        let id = format!("ctr-run-{i}");
        h.track(ns, &id);
        let out = h
            .layout
            .ctr(ns)
            .args(["run", "--rm", "--runc-binary"])
            .arg(&h.isola)
            .args([
                "--annotation",
                annotation,
                HELLO_WASM,
                &id,
                "/hello.wasm",
                "from-ctr",
            ])
            .output()
            .context("running ctr run")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success()
                && stdout.contains("isola-e2e hello from wasm")
                && stdout.contains("arg 1=from-ctr"),
            "ctr run --annotation {annotation}: {}; stdout {stdout:?}; stderr {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// `ctr run --runtime io.containerd.isola.v1 --rm` (containerd finds isola's shim on its PATH;
/// the options file gives it the suite's state root): the wasm image prints its lines, and the
/// container's state is gone after `--rm`.
fn ctr_run_with_isolas_shim_runs_wasm(h: &Harness) -> Result<()> {
    let ns = &h.layout.ctr_namespace;
    isola_e2e::images::import(&h.layout, ns, &h.image_tar(HELLO_WASM))?;
    let id = "ctr-run-shim";
    h.track(ns, id);
    let out = h
        .layout
        .ctr(ns)
        .args(["run", "--rm", "--runtime", "io.containerd.isola.v1", "--runtime-config-path"])
        .arg(h.shim_options_file(SHIM_HANDLER))
        .args(["--annotation", "module.wasm.image/variant=compat-smart", HELLO_WASM, id, "/hello.wasm", "from-ctr"])
        .output()
        .context("running ctr run")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success() && stdout.contains("isola-e2e hello from wasm") && stdout.contains("arg 1=from-ctr"),
        "ctr run --runtime io.containerd.isola.v1: {}; stdout {stdout:?}; stderr {:?}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let state = h.layout.isola_root.join(ns).join(id);
    ensure!(!state.exists(), "{} left after ctr run --rm", state.display());
    Ok(())
}

/// A pod of `handler` with the wasm sleeper (`app`) and the native one (`sidecar`) running, both
/// under compat-smart: (pod, [app id, sidecar id]).
async fn pod_with_running_sleepers(h: &Harness, handler: &str, name: &str) -> Result<(Pod, [String; 2])> {
    let cri = h.cri();
    let pod = cri.run_pod(&pod(h, handler, name, true)).await?;
    let mut ids = Vec::new();
    for (name, image) in [("app", SLEEPER_WASM), ("sidecar", SLEEPER_NATIVE)] {
        let id = cri.create_container(&pod, &container(name, image, true)).await?;
        cri.start_container(&id).await?;
        cri.wait_state(&id, ContainerState::ContainerRunning, isola_e2e::scaled(Duration::from_secs(20))).await?;
        ids.push(id);
    }
    let [app, sidecar] = <[String; 2]>::try_from(ids).expect("two containers");
    Ok((pod, [app, sidecar]))
}

/// Starts a pod (pause + wasm app + Linux sidecar) and leaves it running for the teardown.
async fn leave_a_running_mixed_pod(h: &Harness, handler: &str) -> Result<()> {
    pod_with_running_sleepers(h, handler, "left-running").await?;
    let pids = isola_e2e::teardown::cgroup_pids(&h.layout.cgroup_root);
    ensure!(
        pids.len() >= 3,
        "expected pause + 2 containers in the pod's cgroups, found pids {pids:?}"
    );
    Ok(())
}

/// ExecSync (`kubectl exec`) into a running Linux container, twice: the process's stdout and
/// stderr come back apart, with its exit code; then the container is still running.
async fn exec_sync_in_a_running_container(h: &Harness, handler: &str) -> Result<()> {
    let cri = h.cri();
    let pod = cri.run_pod(&pod(h, handler, "exec", false)).await?;
    let id = cri.create_container(&pod, &container("sleeper", SLEEPER_NATIVE, false)).await?;
    cri.start_container(&id).await?;
    wait_log(cri, &id, "isola-e2e sleeper native started", isola_e2e::scaled(Duration::from_secs(20))).await?;
    for round in ["first", "second"] {
        let (code, out, err) = cri.exec_sync(&id, &["/sleeper", round], 10).await?;
        ensure!(
            code == 3 && out == format!("isola-e2e exec native {round}\n") && err == format!("isola-e2e exec stderr {round}\n"),
            "exec {round}: exit {code}, stdout {out:?}, stderr {err:?}"
        );
    }
    let st = cri.status(&id).await?;
    ensure!(st.state == ContainerState::ContainerRunning as i32, "after the execs: {st:?}");
    cri.stop_and_remove_container(&id, 1).await?;
    cri.stop_and_remove_pod(&pod.id).await
}

/// A container with a terminal (`tty: true`, as `kubectl run -t` asks): its stdout is the
/// terminal, whose output reaches the CRI log; a wasm container's too.
async fn a_terminal_containers_output_reaches_its_log(h: &Harness, handler: &str) -> Result<()> {
    for (wasm, image, build) in [(false, HELLO_NATIVE, "native"), (true, HELLO_WASM, "wasm")] {
        let mut spec = container("tty", image, wasm);
        spec.tty = true;
        let (code, reason, log) = run_to_exit(h, pod(h, handler, &format!("tty-{build}"), wasm), spec).await?;
        // A terminal ends lines with CR LF.
        let lines: Vec<&str> = log.iter().map(|l| l.trim_end_matches('\r')).collect();
        ensure!(code == 0 && reason == "Completed", "{build}: exit {code} ({reason}); log {log:?}");
        ensure!(lines.contains(&format!("isola-e2e hello from {build}").as_str()), "{build}: log {log:?}");
        if !wasm {
            ensure!(lines.contains(&"stdout is a terminal"), "{build}: the process's stdout is no terminal: log {log:?}");
        }
    }
    Ok(())
}

/// Runs `command` under `script`, which gives it a real terminal (as a user's shell would),
/// with stdin held open; returns its exit code and what it wrote.
fn run_on_a_terminal(command: &str, timeout: Duration) -> Result<(Option<i32>, String)> {
    let (stdin, _keep_open) = std::io::pipe()?;
    let out_file = tempfile_path("isola-e2e-tty-out");
    let mut child = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .stdin(stdin)
        .stdout(std::fs::File::create(&out_file)?)
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("running script (util-linux)")?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let out = std::fs::read_to_string(&out_file).unwrap_or_default();
            let _ = std::fs::remove_file(&out_file);
            bail!("{command:?} did not finish within {timeout:?}; output {out:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    Ok((status.code(), out))
}

fn tempfile_path(prefix: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)))
}

/// `ctr task exec -t` (what `kubectl exec -it` asks of the runtime) into a running container,
/// from a terminal: the exec's stdout is a terminal of its own, and its output and exit code
/// come back through it.
async fn exec_with_a_terminal_in_a_running_container(h: &Harness, handler: &str) -> Result<()> {
    let cri = h.cri();
    let pod = cri.run_pod(&pod(h, handler, "exec-tty", false)).await?;
    let id = cri.create_container(&pod, &container("sleeper", SLEEPER_NATIVE, false)).await?;
    cri.start_container(&id).await?;
    wait_log(cri, &id, "isola-e2e sleeper native started", isola_e2e::scaled(Duration::from_secs(20))).await?;
    let command = format!(
        "{} -a {} -n {K8S_NAMESPACE} task exec -t --exec-id tty-1 {id} /sleeper tty",
        h.layout.ctr.display(),
        h.layout.socket.display()
    );
    let (code, out) = run_on_a_terminal(&command, isola_e2e::scaled(Duration::from_secs(30)))?;
    ensure!(
        code == Some(3) && out.contains("isola-e2e exec native tty") && out.contains("isola-e2e exec on a terminal"),
        "ctr task exec -t: exit {code:?}, output {out:?}"
    );
    let st = cri.status(&id).await?;
    ensure!(st.state == ContainerState::ContainerRunning as i32, "after the exec: {st:?}");
    cri.stop_and_remove_container(&id, 1).await?;
    cri.stop_and_remove_pod(&pod.id).await
}

/// isola's shim serves a whole pod from one process (grouped by the CRI sandbox id, as the
/// runc shim does): the pause container and two containers, one shim. Under the runc shim the
/// same holds of its Go shim.
async fn one_shim_per_pod(h: &Harness, handler: &str) -> Result<()> {
    let cri = h.cri();
    let (pod, ids) = pod_with_running_sleepers(h, handler, "grouped").await?;
    let shim_name = if handler == SHIM_HANDLER { "containerd-shim-isola-v1" } else { "containerd-shim-runc-v2" };
    let mut parents = std::collections::BTreeSet::new();
    for id in std::iter::once(&pod.id).chain(&ids) {
        let pid = state_pid(h, id)?;
        let shim = parent_named(pid, shim_name).with_context(|| format!("{id} (pid {pid}) has no {shim_name} ancestor"))?;
        parents.insert(shim);
    }
    ensure!(parents.len() == 1, "the pod's three containers have {} shims: {parents:?}", parents.len());
    for id in &ids {
        cri.stop_and_remove_container(id, 1).await?;
    }
    cri.stop_and_remove_pod(&pod.id).await
}

/// Resident anonymous memory of a process (KiB), from /proc/PID/status.
fn rss_anon_kib(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("RssAnon:")?.trim().strip_suffix(" kB")?.trim().parse().ok())
        .context("no RssAnon line")
}

/// isola's shim holds nothing per container after delete: 200 wasm containers created, run to
/// exit and removed in one pod, one after the other; the shim's resident anonymous memory after
/// the last is within 512 KiB of what it was after the first 20.
async fn shim_memory_is_flat_over_200_container_lifecycles(h: &Harness, handler: &str) -> Result<()> {
    let cri = h.cri();
    let pod = cri.run_pod(&pod(h, handler, "cycles", true)).await?;
    let shim = parent_named(state_pid(h, &pod.id)?, "containerd-shim-isola-v1").context("the pod's shim")?;
    let mut baseline = 0;
    for i in 0..200 {
        let mut spec = container(&format!("hello-{i}"), HELLO_WASM, true);
        spec.args = vec![i.to_string()];
        let id = cri.create_container(&pod, &spec).await?;
        cri.start_container(&id).await?;
        let st = cri.wait_exited(&id, isola_e2e::scaled(Duration::from_secs(20))).await?;
        ensure!(st.exit_code == 0, "cycle {i}: exit {} ({})", st.exit_code, st.reason);
        cri.remove_container(&id).await?;
        ensure!(!h.isola_state_dir(&id).exists(), "cycle {i}: state of {id} left after RemoveContainer");
        if i == 19 {
            baseline = rss_anon_kib(shim)?;
        }
    }
    let last = rss_anon_kib(shim)?;
    eprintln!("    shim RssAnon after 20 lifecycles {baseline} KiB, after 200 {last} KiB");
    ensure!(last <= baseline + 512, "the shim grew from {baseline} to {last} KiB over 180 lifecycles");
    cri.stop_and_remove_pod(&pod.id).await
}

/// containerd's cleanup after a SIGKILLed shim (`containerd-shim-isola-v1 delete` per task):
/// the running wasm app, its Linux sidecar and the pause container are stopped and their state
/// and processes removed; the pod can then be removed the kubelet's way.
async fn a_killed_shim_is_cleaned_up_by_containerd(h: &Harness, handler: &str) -> Result<()> {
    let cri = h.cri();
    let (pod, ids) = pod_with_running_sleepers(h, handler, "shim-killed").await?;
    let pids: Vec<u32> = std::iter::once(&pod.id).chain(&ids).map(|id| state_pid(h, id)).collect::<Result<_>>()?;
    let shim = parent_named(pids[0], "containerd-shim-isola-v1").context("the pod's shim")?;
    // SAFETY: kill(2) of a pid we just found.
    ensure!(unsafe { libc::kill(shim as i32, libc::SIGKILL) } == 0, "kill {shim}: {}", std::io::Error::last_os_error());
    for id in &ids {
        let st = cri.wait_exited(id, isola_e2e::scaled(Duration::from_secs(20))).await?;
        ensure!(st.exit_code != 0, "{id} exited 0 after its shim was killed");
    }
    let deadline = Instant::now() + isola_e2e::scaled(Duration::from_secs(10));
    loop {
        let left: Vec<String> = std::iter::once(&pod.id)
            .chain(&ids)
            .filter(|id| h.isola_state_dir(id).exists())
            .map(|id| format!("state of {id}"))
            .chain(pids.iter().filter(|p| isola_e2e::teardown::process_alive(**p)).map(|p| format!("process {p}")))
            .collect();
        if left.is_empty() {
            break;
        }
        ensure!(Instant::now() < deadline, "after containerd's cleanup of the killed shim: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for id in &ids {
        cri.remove_container(id).await?;
    }
    cri.stop_and_remove_pod(&pod.id).await
}

/// The pod's shim outlives a containerd restart: a workload that exits while containerd is down
/// is reported exited (137; see below for containerd 2.x) once containerd is back and has
/// reconnected to the shim, and a container stopped afterwards reaches EXITED at once (the
/// shim's exit events reach the new containerd). Through isola's shim and, as the reference,
/// containerd's runc shim.
async fn the_shim_survives_a_containerd_restart(h: &Harness, handler: &str) -> Result<()> {
    let cri = h.cri();
    let (pod, [wasm, native_id]) = pod_with_running_sleepers(h, handler, "restart").await?;
    let native = state_pid(h, &native_id)?;
    let shim_binary = if handler == SHIM_HANDLER { "containerd-shim-isola-v1" } else { "containerd-shim-runc-v2" };
    let shim = parent_named(native, shim_binary).context("the pod's shim")?;
    h.restart_containerd(|| {
        // SAFETY: kill(2) of the workload's pid.
        ensure!(unsafe { libc::kill(native as i32, libc::SIGKILL) } == 0, "kill {native}");
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    })?;
    ensure!(isola_e2e::teardown::process_alive(shim), "the shim died with containerd");
    // The CRI answers "not initialized" until containerd has recovered its tasks.
    let ready_by = Instant::now() + isola_e2e::scaled(Duration::from_secs(20));
    while let Err(e) = cri.list_containers().await {
        ensure!(Instant::now() < ready_by, "the CRI is not back after the restart: {e:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let st = cri.wait_exited(&native_id, isola_e2e::scaled(Duration::from_secs(20))).await?;
    // containerd 1.x asks the shim for the exit. containerd 2.x, on loading a task whose
    // processes are all gone, deletes it as a leaked shim's before asking, and the CRI reports
    // 255 "Unknown": so it does with its own runc shim and runc (`ctr run -d`, containerd
    // stopped, task killed, containerd started: `cleaning leaked shim process`, task gone).
    let containerd2_lost_it = h.layout.config_version >= 3 && st.exit_code == 255 && st.reason == "Unknown";
    ensure!(
        st.exit_code == 137 || containerd2_lost_it,
        "the workload killed while containerd was down: exit {} ({})",
        st.exit_code,
        st.reason
    );
    let reported = st.exit_code;
    let t = Instant::now();
    cri.stop_container(&wasm, 2).await?;
    let st = cri.status(&wasm).await?;
    ensure!(st.state == ContainerState::ContainerExited as i32, "after StopContainer: {st:?}");
    eprintln!("    after the restart: exit {} reported; StopContainer took {:?}", reported, t.elapsed());
    for id in [&native_id, &wasm] {
        cri.remove_container(id).await?;
    }
    cri.stop_and_remove_pod(&pod.id).await
}

/// The nearest ancestor of `pid` whose command is `name`.
fn parent_named(mut pid: u32, name: &str) -> Option<u32> {
    for _ in 0..16 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let ppid: u32 = stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()?;
        let exe = std::fs::read_link(format!("/proc/{ppid}/exe")).ok()?;
        if exe.file_name().is_some_and(|f| f == name) {
            return Some(ppid);
        }
        pid = ppid;
    }
    None
}

fn tail(log: &[String]) -> &[String] {
    &log[log.len().saturating_sub(3)..]
}

#[test]
fn cri_end_to_end() {
    let isola = isola_binary().unwrap_or_else(|e| panic!("{e:#}"));
    let started = Instant::now();
    let mut h = Harness::start(&isola).unwrap_or_else(|e| panic!("starting the harness: {e:#}"));
    let version = h.rt.block_on(h.cri().version()).unwrap_or_else(|e| panic!("CRI Version: {e:#}"));
    eprintln!(
        "harness up in {:?}: {}, {version}, config version {}",
        started.elapsed(),
        h.layout.root.display(),
        h.layout.config_version
    );
    // The suite runs the containerd it was pointed at, with the config layout of its release.
    let release_2 = version.starts_with("containerd 2.") || version.starts_with("containerd v2.");
    assert_eq!(release_2, h.layout.config_version == 3, "{version} was given a version {} config", h.layout.config_version);

    type Case = for<'a> fn(
        &'a Harness,
        &'static str,
    )
        -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>>;
    let cases: Vec<(&str, Case)> = vec![
        ("wasm_pod_runs_module_and_logs_its_line", |h, x| {
            Box::pin(wasm_pod_runs_module_and_logs_its_line(h, x))
        }),
        ("linux_container_runs_on_isola_handler", |h, x| {
            Box::pin(linux_container_runs_on_isola_handler(h, x))
        }),
        ("mixed_pod_runs_wasm_app_beside_linux_sidecar", |h, x| {
            Box::pin(mixed_pod_runs_wasm_app_beside_linux_sidecar(h, x))
        }),
        ("wasm_memory_limit_stops_the_hog", |h, x| {
            Box::pin(wasm_memory_limit_stops_the_hog(h, x))
        }),
        ("stop_container_kills_long_running_wasm_quickly", |h, x| {
            Box::pin(stop_container_kills_long_running_wasm_quickly(h, x))
        }),
        ("update_ps_pause_resume_of_a_running_container", |h, x| {
            Box::pin(update_ps_pause_resume_of_a_running_container(h, x))
        }),
        ("exec_sync_in_a_running_container", |h, x| {
            Box::pin(exec_sync_in_a_running_container(h, x))
        }),
        ("a_terminal_containers_output_reaches_its_log", |h, x| Box::pin(a_terminal_containers_output_reaches_its_log(h, x))),
        ("exec_with_a_terminal_in_a_running_container", |h, x| Box::pin(exec_with_a_terminal_in_a_running_container(h, x))),
        ("one_shim_per_pod", |h, x| Box::pin(one_shim_per_pod(h, x))),
        ("the_shim_survives_a_containerd_restart", |h, x| Box::pin(the_shim_survives_a_containerd_restart(h, x))),
    ];
    // What only isola's shim, a long-lived process, must prove.
    let shim_cases: Vec<(&str, Case)> = vec![
        ("shim_memory_is_flat_over_200_container_lifecycles", |h, x| Box::pin(shim_memory_is_flat_over_200_container_lifecycles(h, x))),
        ("a_killed_shim_is_cleaned_up_by_containerd", |h, x| Box::pin(a_killed_shim_is_cleaned_up_by_containerd(h, x))),
    ];
    let mut failures = Vec::new();
    let log_path = h.layout.log.clone();
    let mut report = |name: &str, t: Instant, r: std::thread::Result<Result<()>>| match r {
        Ok(Ok(())) => eprintln!("case {name} ... ok ({:?})", t.elapsed()),
        Ok(Err(e)) => {
            eprintln!("case {name} ... FAILED ({:?}): {e:#}", t.elapsed());
            // containerd's own account of the failure (its log goes with the suite's folder).
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("containerd-{}.log", std::process::id()));
            if std::fs::write(&kept, &log).is_ok() {
                eprintln!("    containerd's log kept at {}", kept.display());
            }
            for line in log.lines().filter(|l| l.contains("level=error") || l.contains("level=warn")).rev().take(20).collect::<Vec<_>>().iter().rev() {
                eprintln!("    containerd: {line}");
            }
            failures.push(format!("{name}: {e:#}"));
        }
        Err(_) => {
            eprintln!("case {name} ... PANICKED");
            failures.push(format!("{name}: panicked"));
        }
    };
    // Every case through containerd's runc shim running isola, then through isola's own shim.
    for handler in ISOLA_HANDLERS {
        for (name, case) in &cases {
            let t = Instant::now();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.rt.block_on(case(&h, handler))));
            report(&format!("{name} [{handler}]"), t, r);
        }
    }
    for (name, case) in &shim_cases {
        let t = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.rt.block_on(case(&h, SHIM_HANDLER))));
        report(name, t, r);
    }
    let t = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctr_run_with_isola_binary_runs_wasm(&h)
    }));
    report("ctr_run_with_isola_binary_runs_wasm", t, r);
    let t = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ctr_run_with_isolas_shim_runs_wasm(&h)));
    report("ctr_run_with_isolas_shim_runs_wasm", t, r);

    // Teardown must cope with what a failing test leaves: a pod whose containers still run.
    let t = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        h.rt.block_on(async {
            leave_a_running_mixed_pod(&h, ISOLA_HANDLER).await?;
            leave_a_running_mixed_pod(&h, SHIM_HANDLER).await
        })
    }));
    report("leave_a_running_mixed_pod_for_teardown", t, r);
    let t = Instant::now();
    let workload_pids = isola_e2e::teardown::cgroup_pids(&h.layout.cgroup_root);
    let containerd_pid = h.containerd_pid();
    let mut left = h.teardown();
    for pid in workload_pids
        .iter()
        .map(|p| *p as u32)
        .chain(containerd_pid)
    {
        if isola_e2e::teardown::process_alive(pid) {
            left.push(format!("process {pid} alive after teardown"));
        }
    }
    eprintln!(
        "case teardown_leaves_nothing_behind ... {} ({:?})",
        if left.is_empty() { "ok" } else { "FAILED" },
        t.elapsed()
    );
    eprintln!("suite took {:?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    assert!(
        left.is_empty(),
        "teardown left behind:\n  {}",
        left.join("\n  ")
    );
}
