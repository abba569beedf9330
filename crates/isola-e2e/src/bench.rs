//! The CRI pod-start benchmark: one round runs RunPodSandbox, CreateContainer and StartContainer
//! until the container exited, timing each phase, for one target (handler + image); rounds of all
//! targets are interleaved (A B C A B C ...) so drift hits every target alike.

use crate::cri::{wasm_annotations, ContainerSpec, ContainerState, Cri, PodSpec};
use crate::harness::{Harness, HELLO_NATIVE, HELLO_WASM, SLEEPER_NATIVE, SLEEPER_WASM};
use anyhow::{ensure, Result};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One thing measured: a RuntimeClass handler running one image.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: &'static str,
    pub handler: &'static str,
    pub image: &'static str,
    pub wasm: bool,
}

/// The runwasi peer (runwasi's shim library with a minimal wasmtime engine) running the wasm build,
/// when `scripts/peers.sh` built it.
pub const RUNWASI: Target = Target {
    name: "runwasi",
    handler: "runwasi",
    image: HELLO_WASM,
    wasm: true,
};

/// [`TARGETS`], plus the runwasi peer when the harness registered it.
pub fn targets(h: &Harness) -> Vec<Target> {
    let mut v = TARGETS.to_vec();
    if h.layout.runwasi_shim.is_some() {
        v.push(RUNWASI);
    }
    v
}

/// isola running the wasm build, runc running the native build (the baseline), and isola running
/// the native build as a plain Linux container: through containerd's runc shim (`isola-*`) and
/// through isola's own shim (`isola-shim-*`).
pub const TARGETS: &[Target] = &[
    Target {
        name: "isola-wasm",
        handler: "isola",
        image: HELLO_WASM,
        wasm: true,
    },
    Target {
        name: "runc",
        handler: "runc",
        image: HELLO_NATIVE,
        wasm: false,
    },
    Target {
        name: "isola-container",
        handler: "isola",
        image: HELLO_NATIVE,
        wasm: false,
    },
    Target {
        name: "isola-shim-wasm",
        handler: crate::harness::SHIM_HANDLER,
        image: HELLO_WASM,
        wasm: true,
    },
    Target {
        name: "isola-shim-container",
        handler: crate::harness::SHIM_HANDLER,
        image: HELLO_NATIVE,
        wasm: false,
    },
];

/// Phases of one pod start, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Phases {
    pub sandbox: f64,
    pub create: f64,
    pub start_to_exited: f64,
    pub total: f64,
}

/// Reads one phase out of a pod start.
pub type Phase = fn(&Phases) -> f64;

/// (benchmark name, phase) in report order.
pub const BENCHMARKS: &[(&str, Phase)] = &[
    ("pod-start", |p| p.total),
    ("pod-sandbox", |p| p.sandbox),
    ("container-create", |p| p.create),
    ("container-start-to-exited", |p| p.start_to_exited),
];

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One timed pod start; the pod is removed afterwards (not timed). Fails unless the container
/// exited 0.
pub async fn pod_start(h: &Harness, cri: &Cri, target: &Target) -> Result<Phases> {
    let (pod_spec, spec) = specs(h, target, format!("bench-{}", target.name), "hello", target.image);
    let t0 = Instant::now();
    let pod = cri.run_pod(&pod_spec).await?;
    let t1 = Instant::now();
    let id = cri.create_container(&pod, &spec).await?;
    let t2 = Instant::now();
    cri.start_container(&id).await?;
    let st = cri.wait_exited(&id, Duration::from_secs(30)).await?;
    let t3 = Instant::now();
    ensure!(
        st.exit_code == 0,
        "{}: container exited {} ({}: {}); log {:?}",
        target.name,
        st.exit_code,
        st.reason,
        st.message,
        crate::cri::read_log(std::path::Path::new(&st.log_path)).unwrap_or_default()
    );
    cri.remove_container(&id).await?;
    cri.stop_and_remove_pod(&pod.id).await?;
    Ok(Phases {
        sandbox: ms(t1 - t0),
        create: ms(t2 - t1),
        start_to_exited: ms(t3 - t2),
        total: ms(t3 - t0),
    })
}

/// The pod and container specs of one pod of `target` (wasm annotations for a wasm target).
fn specs(h: &Harness, target: &Target, pod: String, container: &str, image: &str) -> (PodSpec, ContainerSpec) {
    let annotations = if target.wasm { wasm_annotations() } else { HashMap::new() };
    let pod_spec = PodSpec {
        name: pod,
        handler: target.handler.to_owned(),
        annotations: annotations.clone(),
        log_root: h.layout.pod_logs.clone(),
        cgroup_root: h.layout.cgroup_root.clone(),
    };
    let spec = ContainerSpec { name: container.into(), image: image.into(), annotations, ..Default::default() };
    (pod_spec, spec)
}

/// Memory of `n` pods of one target running at once (the sleeper workload): the PSS of each pod's
/// shim and of everything below it (runtime processes, pause, workload), and the drop of the
/// host's MemAvailable, both divided by `n`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PodMemory {
    pub pods: usize,
    pub pss_kib_per_pod: f64,
    pub host_delta_kib_per_pod: f64,
}

/// Starts `n` pods of `target` with the long-running sleeper (60 s bound), measures
/// [`PodMemory`] once all run, then removes them. Shims are found by their `-id` (the pod's
/// sandbox id: the runc shim and runwasi's both group a pod's containers under it).
pub async fn pod_memory(h: &Harness, cri: &Cri, target: &Target, n: usize) -> Result<PodMemory> {
    let image = if target.wasm { SLEEPER_WASM } else { SLEEPER_NATIVE };
    let before = mem_available_kib();
    let mut started = Vec::new();
    let result = async {
        for i in 0..n {
            let (pod_spec, spec) = specs(h, target, format!("mem-{}-{i}", target.name), "sleeper", image);
            let pod = cri.run_pod(&pod_spec).await?;
            started.push((pod.id.clone(), None));
            let id = cri.create_container(&pod, &spec).await?;
            started.last_mut().expect("pushed above").1 = Some(id.clone());
            cri.start_container(&id).await?;
            cri.wait_state(&id, ContainerState::ContainerRunning, Duration::from_secs(30)).await?;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let pods: Vec<&str> = started.iter().map(|(p, _)| p.as_str()).collect();
        let pss = shim_tree_pss_kib(&pods);
        ensure!(pss.len() == n, "{}: found the shims of {} of {n} pods", target.name, pss.len());
        let after = mem_available_kib();
        anyhow::Ok(PodMemory {
            pods: n,
            pss_kib_per_pod: pss.iter().sum::<f64>() / n as f64,
            host_delta_kib_per_pod: before.saturating_sub(after) as f64 / n as f64,
        })
    }
    .await;
    for (pod, container) in &started {
        if let Some(c) = container {
            let _ = cri.stop_and_remove_container(c, 0).await;
        }
        let _ = cri.stop_and_remove_pod(pod).await;
    }
    result
}

fn mem_available_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

/// For each shim whose `-id` is one of `pods`: the summed PSS (KiB) of it and its descendants.
fn shim_tree_pss_kib(pods: &[&str]) -> Vec<f64> {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut shims = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if let Some(ppid) = stat.rsplit_once(") ").and_then(|(_, r)| r.split(' ').nth(1)).and_then(|p| p.parse().ok()) {
            parent.insert(pid, ppid);
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let id = args.windows(2).find(|w| w[0] == b"-id").map(|w| w[1]);
        if args.first().is_some_and(|a| a.windows(15).any(|w| w == b"containerd-shim"))
            && id.is_some_and(|id| pods.iter().any(|p| p.as_bytes() == id))
        {
            shims.push(pid);
        }
    }
    // runwasi's container processes are forks of its shim, with the shim's command line: a pod's
    // shim is the one whose parent is not itself one of them.
    let forks: Vec<u32> = shims.iter().copied().filter(|p| parent.get(p).is_some_and(|pp| shims.contains(pp))).collect();
    shims.retain(|p| !forks.contains(p));
    shims
        .iter()
        .map(|&shim| {
            parent
                .keys()
                .filter(|&&pid| {
                    let mut p = pid;
                    // Bounded walk up the tree: a pid belongs to the shim if the shim is an ancestor.
                    for _ in 0..64 {
                        if p == shim {
                            return true;
                        }
                        match parent.get(&p) {
                            Some(&pp) if pp > 1 => p = pp,
                            _ => return false,
                        }
                    }
                    false
                })
                .map(|&pid| pss_kib(pid))
                .sum()
        })
        .collect()
}

fn pss_kib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Percentile `q` (0..=1) by linear interpolation between closest ranks.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert_eq!(percentile(&v, 0.1), 1.4);
        assert_eq!(percentile(&v, 0.9), 4.6);
        assert_eq!(percentile(&[7.0], 0.9), 7.0);
    }
}
