//! A CRI client that calls containerd the way the kubelet does (k8s-cri's tonic bindings over the
//! unix socket), plus the CRI log-file format. Async: callers bring a tokio runtime.

use anyhow::{bail, Context, Result};
use k8s_cri::v1 as cri;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint, Uri};

pub use cri::ContainerState;

/// The CRI runtime service of one containerd.
#[derive(Clone)]
pub struct Cri {
    rt: RuntimeServiceClient<Channel>,
    /// Every pod sandbox id RunPodSandbox returned, for the teardown's leftover check.
    created: Arc<Mutex<Vec<String>>>,
}

/// What a pod is made of, before the CRI sees it.
#[derive(Clone, Debug)]
pub struct PodSpec {
    pub name: String,
    /// RuntimeClass handler: `isola`, `isola-shim` or `runc`.
    pub handler: String,
    pub annotations: HashMap<String, String>,
    /// Pod logs go to `<log_root>/<uid>`.
    pub log_root: PathBuf,
    /// `cgroup_parent` is `/<cgroup_root>/<uid>`, or, when `cgroup_root` is a systemd slice
    /// (`NAME.slice`), the pod's own slice in it, `NAME-pod<uid>.slice`, as the kubelet's
    /// systemd driver names them.
    pub cgroup_root: String,
}

/// One container of a pod.
#[derive(Clone, Debug, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub args: Vec<String>,
    pub envs: Vec<(String, String)>,
    pub annotations: HashMap<String, String>,
    pub memory_limit: Option<i64>,
    /// A terminal for the process (`tty: true`, as `kubectl run -t` asks).
    pub tty: bool,
}

/// A pod that RunPodSandbox created.
#[derive(Clone, Debug)]
pub struct Pod {
    pub id: String,
    pub config: cri::PodSandboxConfig,
}

/// The annotation that selects wasm for `-smart` runtimes: wasm only when args[0] is a module.
pub fn wasm_annotations() -> HashMap<String, String> {
    HashMap::from([(
        "module.wasm.image/variant".to_owned(),
        "compat-smart".to_owned(),
    )])
}

impl Cri {
    /// Connects to the CRI over the unix socket at `socket`.
    pub async fn connect(socket: &Path) -> Result<Self> {
        let path = socket.to_path_buf();
        let channel = Endpoint::try_from("http://[::]:50051")?
            .timeout(crate::scaled(Duration::from_secs(60)))
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                }
            }))
            .await
            .with_context(|| format!("connecting to the CRI at {}", socket.display()))?;
        Ok(Self {
            rt: RuntimeServiceClient::new(channel),
            created: Arc::default(),
        })
    }

    /// Ids of every pod sandbox this client created.
    pub fn created_pods(&self) -> Vec<String> {
        self.created.lock().unwrap().clone()
    }

    /// `Version`: containerd's name and version, proving the CRI plugin is loaded.
    pub async fn version(&self) -> Result<String> {
        let v = self
            .rt
            .clone()
            .version(cri::VersionRequest {
                version: "v1".into(),
            })
            .await?
            .into_inner();
        Ok(format!(
            "{} {} (CRI {})",
            v.runtime_name, v.runtime_version, v.runtime_api_version
        ))
    }

    pub async fn run_pod(&self, spec: &PodSpec) -> Result<Pod> {
        let uid = unique_id(&spec.name);
        let log_dir = spec.log_root.join(&uid);
        std::fs::create_dir_all(&log_dir)?;
        let config = cri::PodSandboxConfig {
            metadata: Some(cri::PodSandboxMetadata {
                name: spec.name.clone(),
                uid: uid.clone(),
                namespace: "isola-e2e".into(),
                attempt: 0,
            }),
            hostname: spec.name.clone(),
            log_directory: log_dir.display().to_string(),
            labels: HashMap::from([("app".to_owned(), spec.name.clone())]),
            annotations: spec.annotations.clone(),
            linux: Some(cri::LinuxPodSandboxConfig {
                cgroup_parent: cgroup_parent(&spec.cgroup_root, &uid),
                security_context: Some(cri::LinuxSandboxSecurityContext {
                    namespace_options: Some(cri::NamespaceOption {
                        network: cri::NamespaceMode::Pod as i32,
                        pid: cri::NamespaceMode::Container as i32,
                        ipc: cri::NamespaceMode::Pod as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let resp = self
            .rt
            .clone()
            .run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: spec.handler.clone(),
            })
            .await
            .with_context(|| format!("RunPodSandbox {} (handler {})", spec.name, spec.handler))?;
        let id = resp.into_inner().pod_sandbox_id;
        self.created.lock().unwrap().push(id.clone());
        Ok(Pod { id, config })
    }

    pub async fn create_container(&self, pod: &Pod, spec: &ContainerSpec) -> Result<String> {
        let config = cri::ContainerConfig {
            metadata: Some(cri::ContainerMetadata {
                name: spec.name.clone(),
                attempt: 0,
            }),
            image: Some(cri::ImageSpec {
                image: spec.image.clone(),
                ..Default::default()
            }),
            args: spec.args.clone(),
            envs: spec
                .envs
                .iter()
                .map(|(k, v)| cri::KeyValue {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            annotations: spec.annotations.clone(),
            log_path: format!("{}.log", spec.name),
            tty: spec.tty,
            linux: Some(cri::LinuxContainerConfig {
                resources: spec.memory_limit.map(|m| cri::LinuxContainerResources {
                    memory_limit_in_bytes: m,
                    ..Default::default()
                }),
                security_context: Some(cri::LinuxContainerSecurityContext {
                    namespace_options: Some(cri::NamespaceOption {
                        network: cri::NamespaceMode::Pod as i32,
                        pid: cri::NamespaceMode::Container as i32,
                        ipc: cri::NamespaceMode::Pod as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        let resp = self
            .rt
            .clone()
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: pod.id.clone(),
                config: Some(config),
                sandbox_config: Some(pod.config.clone()),
            })
            .await
            .with_context(|| {
                format!(
                    "CreateContainer {} ({}) in pod {}",
                    spec.name, spec.image, pod.id
                )
            })?;
        Ok(resp.into_inner().container_id)
    }

    pub async fn start_container(&self, id: &str) -> Result<()> {
        self.rt
            .clone()
            .start_container(cri::StartContainerRequest {
                container_id: id.into(),
            })
            .await
            .with_context(|| format!("StartContainer {id}"))?;
        Ok(())
    }

    pub async fn status(&self, id: &str) -> Result<cri::ContainerStatus> {
        let resp = self
            .rt
            .clone()
            .container_status(cri::ContainerStatusRequest {
                container_id: id.into(),
                verbose: false,
            })
            .await
            .with_context(|| format!("ContainerStatus {id}"))?;
        resp.into_inner()
            .status
            .with_context(|| format!("ContainerStatus {id}: no status"))
    }

    /// Polls ContainerStatus until the container is in `state`, or fails after `timeout`.
    pub async fn wait_state(
        &self,
        id: &str,
        state: ContainerState,
        timeout: Duration,
    ) -> Result<cri::ContainerStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let st = self.status(id).await?;
            if st.state == state as i32 {
                return Ok(st);
            }
            if st.state == ContainerState::ContainerExited as i32 {
                bail!(
                    "container {id} exited (code {}, reason {:?}, message {:?}) while waiting for {state:?}; log: {}",
                    st.exit_code,
                    st.reason,
                    st.message,
                    read_log(Path::new(&st.log_path)).unwrap_or_default().join(" | ")
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "container {id} not {state:?} after {timeout:?} (state {})",
                    st.state
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub async fn wait_exited(&self, id: &str, timeout: Duration) -> Result<cri::ContainerStatus> {
        self.wait_state(id, ContainerState::ContainerExited, timeout)
            .await
    }

    /// StopContainer with `timeout_s`: SIGTERM, then SIGKILL after the timeout.
    pub async fn stop_container(&self, id: &str, timeout_s: i64) -> Result<()> {
        self.rt
            .clone()
            .stop_container(cri::StopContainerRequest {
                container_id: id.into(),
                timeout: timeout_s,
            })
            .await
            .with_context(|| format!("StopContainer {id}"))?;
        Ok(())
    }

    /// ContainerStats (what `kubectl top` and the kubelet's eviction read): (CPU time in ns,
    /// memory working set in bytes).
    pub async fn container_stats(&self, id: &str) -> Result<(u64, u64)> {
        let r = self
            .rt
            .clone()
            .container_stats(cri::ContainerStatsRequest { container_id: id.into() })
            .await
            .with_context(|| format!("ContainerStats {id}"))?
            .into_inner();
        let stats = r.stats.with_context(|| format!("ContainerStats {id}: no stats"))?;
        let cpu = stats.cpu.and_then(|c| c.usage_core_nano_seconds).map(|v| v.value).unwrap_or(0);
        let mem = stats.memory.and_then(|m| m.working_set_bytes).map(|v| v.value).unwrap_or(0);
        Ok((cpu, mem))
    }

    /// ExecSync (`kubectl exec` without a terminal): (exit code, stdout, stderr).
    pub async fn exec_sync(&self, id: &str, cmd: &[&str], timeout_s: i64) -> Result<(i32, String, String)> {
        let r = self
            .rt
            .clone()
            .exec_sync(cri::ExecSyncRequest {
                container_id: id.into(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: timeout_s,
            })
            .await
            .with_context(|| format!("ExecSync {id} {cmd:?}"))?
            .into_inner();
        Ok((r.exit_code, String::from_utf8_lossy(&r.stdout).into_owned(), String::from_utf8_lossy(&r.stderr).into_owned()))
    }

    /// UpdateContainerResources with a new memory limit (the kubelet's in-place resize).
    pub async fn update_memory_limit(&self, id: &str, bytes: i64) -> Result<()> {
        self.rt
            .clone()
            .update_container_resources(cri::UpdateContainerResourcesRequest {
                container_id: id.into(),
                linux: Some(cri::LinuxContainerResources {
                    memory_limit_in_bytes: bytes,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .with_context(|| format!("UpdateContainerResources {id}"))?;
        Ok(())
    }

    pub async fn remove_container(&self, id: &str) -> Result<()> {
        self.rt
            .clone()
            .remove_container(cri::RemoveContainerRequest {
                container_id: id.into(),
            })
            .await
            .with_context(|| format!("RemoveContainer {id}"))?;
        Ok(())
    }

    pub async fn stop_pod(&self, id: &str) -> Result<()> {
        self.rt
            .clone()
            .stop_pod_sandbox(cri::StopPodSandboxRequest {
                pod_sandbox_id: id.into(),
            })
            .await
            .with_context(|| format!("StopPodSandbox {id}"))?;
        Ok(())
    }

    pub async fn remove_pod(&self, id: &str) -> Result<()> {
        self.rt
            .clone()
            .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: id.into(),
            })
            .await
            .with_context(|| format!("RemovePodSandbox {id}"))?;
        Ok(())
    }

    /// The kubelet's order for one container: StopContainer, RemoveContainer.
    pub async fn stop_and_remove_container(&self, id: &str, timeout_s: i64) -> Result<()> {
        self.stop_container(id, timeout_s).await?;
        self.remove_container(id).await
    }

    /// StopPodSandbox then RemovePodSandbox (which removes what containers remain).
    pub async fn stop_and_remove_pod(&self, id: &str) -> Result<()> {
        self.stop_pod(id).await?;
        self.remove_pod(id).await
    }

    /// Ids of every pod sandbox this containerd knows.
    pub async fn list_pods(&self) -> Result<Vec<String>> {
        let resp = self
            .rt
            .clone()
            .list_pod_sandbox(cri::ListPodSandboxRequest { filter: None })
            .await?;
        Ok(resp.into_inner().items.into_iter().map(|p| p.id).collect())
    }

    /// Ids of every container this containerd's CRI knows.
    pub async fn list_containers(&self) -> Result<Vec<String>> {
        let resp = self
            .rt
            .clone()
            .list_containers(cri::ListContainersRequest { filter: None })
            .await?;
        Ok(resp
            .into_inner()
            .containers
            .into_iter()
            .map(|c| c.id)
            .collect())
    }
}

/// A pod uid that is unique in this process and says what it is for.
/// A pod's `cgroup_parent` under `cgroup_root` (see [`PodSpec::cgroup_root`]).
pub fn cgroup_parent(cgroup_root: &str, uid: &str) -> String {
    match cgroup_root.strip_suffix(".slice") {
        // '-' nests slices; the kubelet turns the uid's dashes into '_' the same way.
        Some(slice) => format!("{slice}-pod{}.slice", uid.replace('-', "_")),
        None => format!("/{cgroup_root}/{uid}"),
    }
}

pub fn unique_id(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Parses the CRI log format (`TIMESTAMP STREAM P|F MESSAGE`), joining partial (`P`) lines.
pub fn parse_cri_log(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut partial = String::new();
    for raw in text.lines() {
        let mut fields = raw.splitn(4, ' ');
        let (Some(_ts), Some(_stream), Some(tag), msg) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        partial.push_str(msg.unwrap_or(""));
        if tag != "P" {
            lines.push(std::mem::take(&mut partial));
        }
    }
    if !partial.is_empty() {
        lines.push(partial);
    }
    lines
}

/// Reads and parses a container's CRI log file.
pub fn read_log(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading CRI log {}", path.display()))?;
    Ok(parse_cri_log(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_log_lines_join_partials_and_keep_streams() {
        let text = "2026-01-01T00:00:00.1Z stdout F hello\n\
                    2026-01-01T00:00:00.2Z stderr P par\n\
                    2026-01-01T00:00:00.3Z stderr F tial\n\
                    2026-01-01T00:00:00.4Z stdout F \n";
        assert_eq!(parse_cri_log(text), vec!["hello", "partial", ""]);
    }
}
