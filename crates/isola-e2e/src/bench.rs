//! The CRI pod-start benchmark: one round runs RunPodSandbox, CreateContainer and StartContainer
//! until the container exited, timing each phase, for one target (handler + image); rounds of all
//! targets are interleaved (A B C A B C ...) so drift hits every target alike.

use crate::cri::{wasm_annotations, ContainerSpec, Cri, PodSpec};
use crate::harness::{Harness, HELLO_NATIVE, HELLO_WASM};
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

/// isola running the wasm build, runc running the native build (the baseline), and isola running
/// the native build as a plain Linux container.
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
    let annotations = if target.wasm {
        wasm_annotations()
    } else {
        HashMap::new()
    };
    let pod_spec = PodSpec {
        name: format!("bench-{}", target.name),
        handler: target.handler.to_owned(),
        annotations: annotations.clone(),
        log_root: h.layout.pod_logs.clone(),
        cgroup_root: h.layout.cgroup_root.clone(),
    };
    let spec = ContainerSpec {
        name: "hello".into(),
        image: target.image.into(),
        annotations,
        ..Default::default()
    };
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
