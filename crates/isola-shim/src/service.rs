//! The shim's two faces: `Service` answers containerd's `start`/`delete` actions (one shim per
//! pod, grouped by the CRI sandbox id as the runc shim does), and `Tasks` serves the task API
//! for every container of the pod by calling isola's runtime in this process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use containerd_shim::api::{
    CloseIORequest, ConnectRequest, ConnectResponse, CreateTaskRequest, CreateTaskResponse, DeleteRequest, Empty,
    ExecProcessRequest, KillRequest, PauseRequest, PidsRequest, PidsResponse, ResizePtyRequest,
    ResumeRequest, ShutdownRequest, StartRequest, StartResponse, StateRequest, StateResponse, Status, StatsRequest,
    StatsResponse, UpdateTaskRequest, WaitRequest, WaitResponse,
};
use containerd_shim::event::Event;
use containerd_shim::protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskPaused, TaskResumed, TaskStart,
};
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::types::task::ProcessInfo;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::util::{convert_to_any, write_address};
use containerd_shim::{spawn, Config, DeleteResponse, Error, ExitSignal, Flags, Shim, StartOpts, Task, TtrpcContext, TtrpcResult};
use isola_runtime::{CreateArgs, ExecArgs, Runtime};

use crate::console::{ConsoleSocket, Terminal};
use crate::options::ShimOptions;
use crate::reaper::{self, Exit};
use crate::stdio;

/// containerd's name for this shim: `runtime_type = "io.containerd.isola.v1"` runs
/// `containerd-shim-isola-v1`.
pub const RUNTIME_ID: &str = "io.containerd.isola.v1";

/// The CRI annotation naming a container's pod sandbox (the pause container has it too).
const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";

/// The exit status containerd reports for a task whose shim had to be cleaned up.
const KILLED: u32 = 128 + libc::SIGKILL as u32;

pub struct Service {
    exit: Arc<ExitSignal>,
    namespace: String,
    id: String,
    bundle: String,
}

impl Shim for Service {
    type T = Tasks;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        Service { exit: Arc::default(), namespace: args.namespace.clone(), id: args.id.clone(), bundle: args.bundle.clone() }
    }

    /// `start`: a container joins its pod's shim (started here if it is the first).
    fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        let grouping = sandbox_id(Path::new("config.json")).unwrap_or_else(|| opts.id.clone());
        let (_, address) = spawn(opts, &grouping, Vec::new())?;
        write_address(&address)?;
        Ok(address)
    }

    /// `delete`: containerd's cleanup after a shim was lost; removes whatever of the container
    /// is left (state, cgroup, processes) and its rootfs mount.
    fn delete_shim(&mut self) -> containerd_shim::Result<DeleteResponse> {
        let bundle = if self.bundle.is_empty() { std::env::current_dir().map_err(|e| Error::Other(e.to_string()))? } else { PathBuf::from(&self.bundle) };
        let options = ShimOptions::load(&bundle).unwrap_or_default();
        let runtime = options.runtime(&self.namespace).map_err(Error::Other)?;
        if let Err(e) = runtime.delete(&self.id, true) {
            log::warn!("cleanup of {}: {e}", self.id);
        }
        unmount_rootfs(&bundle);
        Ok(DeleteResponse { exit_status: KILLED, exited_at: Some(now()).into(), ..Default::default() })
    }

    fn wait(&mut self) {
        self.exit.wait();
    }

    fn create_task_service(&self, publisher: RemotePublisher) -> Tasks {
        Tasks {
            namespace: self.namespace.clone(),
            publisher: Arc::new(Mutex::new(publisher)),
            exit: self.exit.clone(),
            containers: Mutex::default(),
            lifecycle: Mutex::default(),
        }
    }
}

/// The pod sandbox id from a bundle's config.json annotations.
fn sandbox_id(config: &Path) -> Option<String> {
    let text = std::fs::read(config).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    v.get("annotations")?.get(SANDBOX_ID)?.as_str().map(str::to_owned)
}

/// One process of a task: the container's init or an exec.
struct Process {
    pid: Mutex<u32>,
    exit: Arc<Exit>,
    stdin: String,
    stdout: String,
    stderr: String,
    /// Whether the process has a terminal, and the terminal once it has arrived.
    tty: bool,
    terminal: Mutex<Option<Arc<Terminal>>>,
}

impl Process {
    fn new(stdin: &str, stdout: &str, stderr: &str, tty: bool) -> Self {
        Process {
            pid: Mutex::new(0),
            exit: Arc::default(),
            stdin: stdin.into(),
            stdout: stdout.into(),
            stderr: stderr.into(),
            tty,
            terminal: Mutex::default(),
        }
    }

    fn pid(&self) -> u32 {
        *self.pid.lock().unwrap()
    }

    fn terminal(&self) -> Option<Arc<Terminal>> {
        self.terminal.lock().unwrap().clone()
    }

    /// The streams the runtime gives the process: containerd's fifos, or nothing when a
    /// terminal takes their place.
    fn open_stdio(&self) -> Result<Arc<isola_runtime::Stdio>, String> {
        if self.tty {
            stdio::open("", "", "")
        } else {
            stdio::open(&self.stdin, &self.stdout, &self.stderr)
        }
    }

    /// Takes the terminal the process sent on `console` and starts copying its streams.
    fn attach_terminal(&self, console: &ConsoleSocket) -> Result<(), String> {
        let terminal = Terminal::attach(console.receive()?, &self.stdin, &self.stdout)?;
        *self.terminal.lock().unwrap() = Some(Arc::new(terminal));
        Ok(())
    }
}

/// How long an exit waits for its terminal's last output to be copied before it is published.
const TERMINAL_DRAIN: Duration = Duration::from_secs(2);

/// A console socket for a process with a terminal.
fn console_for(p: &Process) -> Result<Option<ConsoleSocket>, String> {
    p.tty.then(ConsoleSocket::new).transpose()
}

struct ExecProcess {
    process: Process,
    /// The OCI process (JSON) containerd sent.
    spec: Vec<u8>,
    /// Its streams until it starts; then only the process holds them, so containerd sees EOF
    /// when it exits (ExecSync waits for that).
    stdio: Mutex<Option<Arc<isola_runtime::Stdio>>>,
}

struct Container {
    runtime: Runtime,
    bundle: PathBuf,
    rootfs_mounted: bool,
    init: Process,
    started: Mutex<bool>,
    execs: Mutex<HashMap<String, Arc<ExecProcess>>>,
}

pub struct Tasks {
    namespace: String,
    /// Events to containerd; reconnected when containerd has restarted.
    publisher: Arc<Mutex<RemotePublisher>>,
    exit: Arc<ExitSignal>,
    containers: Mutex<HashMap<String, Arc<Container>>>,
    /// One create/start/exec/delete at a time: each forks from this multi-threaded process.
    lifecycle: Mutex<()>,
}

type Res<T> = Result<T, Error>;

impl Tasks {
    fn container(&self, id: &str) -> Res<Arc<Container>> {
        self.containers.lock().unwrap().get(id).cloned().ok_or_else(|| Error::NotFoundError(format!("container {id} not found")))
    }

    fn exec_of(&self, c: &Container, id: &str, exec_id: &str) -> Res<Arc<ExecProcess>> {
        c.execs.lock().unwrap().get(exec_id).cloned().ok_or_else(|| Error::NotFoundError(format!("exec {exec_id} of container {id} not found")))
    }

    /// The terminal of a container's init (empty `exec_id`) or of one of its execs, if it has one.
    fn terminal_of(&self, id: &str, exec_id: &str) -> Res<Option<Arc<Terminal>>> {
        let c = self.container(id)?;
        Ok(if exec_id.is_empty() { c.init.terminal() } else { self.exec_of(&c, id, exec_id)?.process.terminal() })
    }

    fn publish(&self, event: impl Event + Clone + 'static) {
        publish(&self.publisher, &self.namespace, event);
    }

    /// Records `pid` of a process and publishes its exit when the reaper sees it.
    fn watch(&self, container_id: &str, exec_id: &str, process: &Process, pid: u32) {
        *process.pid.lock().unwrap() = pid;
        let (publisher, namespace) = (self.publisher.clone(), self.namespace.clone());
        let (container_id, id) = (container_id.to_string(), if exec_id.is_empty() { container_id.to_string() } else { exec_id.to_string() });
        let terminal = process.terminal();
        reaper::watch(
            pid as i32,
            process.exit.clone(),
            Box::new(move |code, ts| {
                if let Some(t) = terminal {
                    t.wait_output(TERMINAL_DRAIN);
                }
                let event = TaskExit { container_id, id, pid, exit_status: code, exited_at: Some(ts).into(), ..Default::default() };
                publish(&publisher, &namespace, event);
            }),
        );
    }

    fn do_create(&self, req: CreateTaskRequest) -> Res<CreateTaskResponse> {
        if !req.checkpoint.is_empty() || !req.parent_checkpoint.is_empty() {
            return Err(Error::Unimplemented("checkpoint/restore is not supported".into()));
        }
        if self.containers.lock().unwrap().contains_key(&req.id) {
            return Err(Error::InvalidArgument(format!("container {} already exists in this shim", req.id)));
        }
        let (type_url, value) = req.options.as_ref().map(|a| (a.type_url.as_str(), a.value.as_slice())).unwrap_or_default();
        let options = ShimOptions::from_any(type_url, value).map_err(Error::InvalidArgument)?;
        let runtime = options.runtime(&self.namespace).map_err(Error::InvalidArgument)?;
        let bundle = PathBuf::from(&req.bundle);
        options.save(&bundle).map_err(Error::Other)?;
        let rootfs = bundle.join("rootfs");
        let rootfs_mounted = !req.rootfs.is_empty();
        for m in &req.rootfs {
            std::fs::create_dir_all(&rootfs).map_err(|e| Error::Other(format!("{}: {e}", rootfs.display())))?;
            if let Err(e) = crate::mount::mount_rootfs(&m.type_, &m.source, &m.options, &rootfs) {
                unmount_rootfs(&bundle);
                return Err(Error::Other(e));
            }
        }
        let undo = |e: String| {
            if rootfs_mounted {
                unmount_rootfs(&bundle);
            }
            Error::Other(e)
        };
        let init = Process::new(&req.stdin, &req.stdout, &req.stderr, req.terminal);
        let io = init.open_stdio().map_err(undo)?;
        let console = console_for(&init).map_err(undo)?;
        let args = CreateArgs { bundle: bundle.clone(), stdio: Some(io), console_socket: console.as_ref().map(ConsoleSocket::path), ..Default::default() };
        let pid = {
            let _one = self.lifecycle.lock().unwrap();
            runtime.create(&req.id, &args).map_err(|e| undo(e.to_string()))?
        } as u32;
        if let Some(console) = &console {
            if let Err(e) = init.attach_terminal(console) {
                let _one = self.lifecycle.lock().unwrap();
                let _ = runtime.delete(&req.id, true);
                return Err(undo(e));
            }
        }
        let container = Arc::new(Container { runtime, bundle, rootfs_mounted, init, started: Mutex::new(false), execs: Mutex::default() });
        self.watch(&req.id, "", &container.init, pid);
        self.containers.lock().unwrap().insert(req.id.clone(), container);
        self.publish(TaskCreate {
            container_id: req.id,
            bundle: req.bundle,
            rootfs: req.rootfs,
            io: Some(TaskIO { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal, ..Default::default() }).into(),
            pid,
            ..Default::default()
        });
        Ok(CreateTaskResponse { pid, ..Default::default() })
    }

    fn do_start(&self, req: StartRequest) -> Res<StartResponse> {
        let c = self.container(&req.id)?;
        if req.exec_id.is_empty() {
            {
                let _one = self.lifecycle.lock().unwrap();
                c.runtime.start(&req.id).map_err(|e| Error::Other(e.to_string()))?;
            }
            *c.started.lock().unwrap() = true;
            let pid = c.init.pid();
            self.publish(TaskStart { container_id: req.id, pid, ..Default::default() });
            return Ok(StartResponse { pid, ..Default::default() });
        }
        let e = self.exec_of(&c, &req.id, &req.exec_id)?;
        let file = c.bundle.join(format!("isola-exec-{}.json", req.exec_id));
        let pid_file = c.bundle.join(format!("isola-exec-{}.pid", req.exec_id));
        let stdio = e.stdio.lock().unwrap().take().ok_or_else(|| Error::InvalidArgument(format!("exec {} was started already", req.exec_id)))?;
        let result = (|| {
            std::fs::write(&file, &e.spec).map_err(|err| format!("{}: {err}", file.display()))?;
            let console = console_for(&e.process)?;
            let args = ExecArgs {
                process: Some(file.clone()),
                pid_file: Some(pid_file.clone()),
                detach: true,
                stdio: Some(stdio),
                console_socket: console.as_ref().map(ConsoleSocket::path),
                ..Default::default()
            };
            {
                let _one = self.lifecycle.lock().unwrap();
                c.runtime.exec(&req.id, &args).map_err(|err| err.to_string())?;
            }
            let text = std::fs::read_to_string(&pid_file).map_err(|err| format!("{}: {err}", pid_file.display()))?;
            let pid = text.trim().parse::<u32>().map_err(|err| format!("{}: {err}", pid_file.display()))?;
            if let Some(console) = &console {
                if let Err(err) = e.process.attach_terminal(console) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
                    return Err(err);
                }
            }
            Ok(pid)
        })();
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_file(&pid_file);
        let pid = result.map_err(Error::Other)?;
        self.watch(&req.id, &req.exec_id, &e.process, pid);
        self.publish(TaskExecStarted { container_id: req.id, exec_id: req.exec_id, pid, ..Default::default() });
        Ok(StartResponse { pid, ..Default::default() })
    }

    fn do_exec(&self, req: ExecProcessRequest) -> Res<Empty> {
        let c = self.container(&req.id)?;
        // An exec id names files in the bundle: the runtime's own rule for ids.
        if let Err(why) = isola_policy::id::validate_id(&req.exec_id) {
            return Err(Error::InvalidArgument(format!("exec id: {why}")));
        }
        if c.execs.lock().unwrap().contains_key(&req.exec_id) {
            return Err(Error::InvalidArgument(format!("exec {} already exists", req.exec_id)));
        }
        let spec = req.spec.as_ref().map(|a| a.value.clone()).ok_or_else(|| Error::InvalidArgument("exec without a process spec".into()))?;
        let process = Process::new(&req.stdin, &req.stdout, &req.stderr, req.terminal);
        let io = process.open_stdio().map_err(Error::Other)?;
        let e = ExecProcess { process, spec, stdio: Mutex::new(Some(io)) };
        c.execs.lock().unwrap().insert(req.exec_id.clone(), Arc::new(e));
        self.publish(TaskExecAdded { container_id: req.id, exec_id: req.exec_id, ..Default::default() });
        Ok(Empty::new())
    }

    fn do_kill(&self, req: KillRequest) -> Res<Empty> {
        let c = self.container(&req.id)?;
        if !req.exec_id.is_empty() {
            let e = self.exec_of(&c, &req.id, &req.exec_id)?;
            let pid = e.process.pid();
            if pid == 0 || e.process.exit.get().is_some() {
                return Err(Error::NotFoundError(format!("exec {}: process already finished", req.exec_id)));
            }
            let sig = nix::sys::signal::Signal::try_from(req.signal as i32).map_err(|err| Error::InvalidArgument(err.to_string()))?;
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).map_err(|err| Error::Other(format!("signalling exec {}: {err}", req.exec_id)))?;
            return Ok(Empty::new());
        }
        if c.init.exit.get().is_some() && !req.all {
            return Err(Error::NotFoundError(format!("container {}: process already finished", req.id)));
        }
        c.runtime.kill(&req.id, &req.signal.to_string(), req.all).map_err(|e| Error::Other(e.to_string()))?;
        Ok(Empty::new())
    }

    fn do_delete(&self, req: DeleteRequest) -> Res<DeleteResponse> {
        let c = self.container(&req.id)?;
        if !req.exec_id.is_empty() {
            let e = self.exec_of(&c, &req.id, &req.exec_id)?;
            let pid = e.process.pid();
            let exit = e.process.exit.get();
            if pid != 0 && exit.is_none() {
                return Err(Error::FailedPreconditionError(format!("exec {} is running; kill it first", req.exec_id)));
            }
            c.execs.lock().unwrap().remove(&req.exec_id);
            let (code, ts) = exit.unwrap_or_default();
            return Ok(DeleteResponse { pid, exit_status: code, exited_at: Some(ts).into(), ..Default::default() });
        }
        let started = *c.started.lock().unwrap();
        if started && c.init.exit.get().is_none() {
            return Err(Error::FailedPreconditionError(format!("container {} is running; kill it first", req.id)));
        }
        {
            let _one = self.lifecycle.lock().unwrap();
            c.runtime.delete(&req.id, true).map_err(|e| Error::Other(e.to_string()))?;
        }
        if c.rootfs_mounted {
            unmount_rootfs(&c.bundle);
        }
        let pid = c.init.pid();
        // A created, never started init is killed by the delete: its exit follows at once.
        let (code, ts) = c.init.exit.wait_for(Duration::from_secs(2)).unwrap_or_else(|| {
            reaper::unwatch(pid as i32);
            (KILLED, now())
        });
        self.containers.lock().unwrap().remove(&req.id);
        self.publish(TaskDelete { container_id: req.id.clone(), pid, exit_status: code, exited_at: Some(ts.clone()).into(), id: req.id, ..Default::default() });
        Ok(DeleteResponse { pid, exit_status: code, exited_at: Some(ts).into(), ..Default::default() })
    }

    fn do_state(&self, req: StateRequest) -> Res<StateResponse> {
        let c = self.container(&req.id)?;
        if !req.exec_id.is_empty() {
            let e = self.exec_of(&c, &req.id, &req.exec_id)?;
            let status = match (e.process.exit.get(), e.process.pid()) {
                (Some(_), _) => Status::STOPPED,
                (None, 0) => Status::CREATED,
                (None, _) => Status::RUNNING,
            };
            return Ok(state_response(&req, &c, &e.process, status));
        }
        let status = match (c.init.exit.get(), *c.started.lock().unwrap()) {
            (Some(_), _) => Status::STOPPED,
            (None, false) => Status::CREATED,
            // Only the freezer knows a paused container; ask the runtime only then.
            (None, true) => match c.runtime.state(&req.id) {
                Ok(s) if s.status == "paused" => Status::PAUSED,
                _ => Status::RUNNING,
            },
        };
        Ok(state_response(&req, &c, &c.init, status))
    }

    fn do_wait(&self, req: WaitRequest) -> Res<WaitResponse> {
        let c = self.container(&req.id)?;
        let exit = if req.exec_id.is_empty() { c.init.exit.clone() } else { self.exec_of(&c, &req.id, &req.exec_id)?.process.exit.clone() };
        let (code, ts) = exit.wait();
        Ok(WaitResponse { exit_status: code, exited_at: Some(ts).into(), ..Default::default() })
    }
}

fn state_response(req: &StateRequest, c: &Container, p: &Process, status: Status) -> StateResponse {
    let exit = p.exit.get();
    StateResponse {
        id: req.id.clone(),
        exec_id: req.exec_id.clone(),
        bundle: c.bundle.display().to_string(),
        pid: p.pid(),
        status: status.into(),
        stdin: p.stdin.clone(),
        stdout: p.stdout.clone(),
        stderr: p.stderr.clone(),
        terminal: p.tty,
        exit_status: exit.as_ref().map(|e| e.0).unwrap_or_default(),
        exited_at: exit.map(|e| e.1).into(),
        ..Default::default()
    }
}

fn publish(publisher: &Mutex<RemotePublisher>, namespace: &str, event: impl Event + Clone + 'static) {
    let topic = event.topic();
    let mut p = publisher.lock().unwrap();
    if p.publish(Default::default(), &topic, namespace, Box::new(event.clone())).is_ok() {
        return;
    }
    // containerd restarted (its socket is a new one) or is down: connect again, once. An event
    // lost while containerd is down is recovered by containerd itself, from the task's state.
    let address = std::env::var("TTRPC_ADDRESS").unwrap_or_default();
    match RemotePublisher::new(&address).map(|fresh| *p = fresh).and_then(|()| p.publish(Default::default(), &topic, namespace, Box::new(event))) {
        Ok(()) => log::info!("reconnected to containerd at {address} to publish {topic}"),
        Err(e) => log::error!("publishing {topic}: {e}"),
    }
}

/// CPU time (ns) of `pid`'s cgroup on cgroup v1, from `cpuacct.usage`: containerd-shim's
/// collector reads only the cpu controller's `cpu.stat`, which on v1 has no usage (the v2
/// `usage_usec` it looks for), so `kubectl top` would see 0. None on v2.
fn cpuacct_usage(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers.split(',').any(|c| c == "cpuacct").then(|| path.trim_start_matches('/').to_string())
    })?;
    std::fs::read_to_string(Path::new("/sys/fs/cgroup/cpuacct").join(path).join("cpuacct.usage")).ok()?.trim().parse().ok()
}

/// Gives the heap's free pages back after a lifecycle call (a create loads and links a wasm
/// module, then frees it): an idle pod's shim keeps only what it holds.
fn release_free_memory() {
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
}

fn now() -> Timestamp {
    containerd_shim::util::timestamp().unwrap_or_default()
}

/// Unmounts what containerd's create mounted on `<bundle>/rootfs` (lazily: a process still in
/// the mount namespace does not keep it).
fn unmount_rootfs(bundle: &Path) {
    let rootfs = bundle.join("rootfs");
    for _ in 0..8 {
        if nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH).is_err() {
            break;
        }
    }
}

impl Task for Tasks {
    fn create(&self, _ctx: &TtrpcContext, req: CreateTaskRequest) -> TtrpcResult<CreateTaskResponse> {
        let r = self.do_create(req);
        release_free_memory();
        Ok(r?)
    }

    fn start(&self, _ctx: &TtrpcContext, req: StartRequest) -> TtrpcResult<StartResponse> {
        let r = self.do_start(req);
        release_free_memory();
        Ok(r?)
    }

    fn delete(&self, _ctx: &TtrpcContext, req: DeleteRequest) -> TtrpcResult<DeleteResponse> {
        let r = self.do_delete(req);
        release_free_memory();
        Ok(r?)
    }

    fn pids(&self, _ctx: &TtrpcContext, req: PidsRequest) -> TtrpcResult<PidsResponse> {
        let c = self.container(&req.id)?;
        let pids = c.runtime.ps(&req.id).map_err(|e| Error::Other(e.to_string()))?;
        let processes = pids.into_iter().map(|pid| ProcessInfo { pid: pid as u32, ..Default::default() }).collect();
        Ok(PidsResponse { processes, ..Default::default() })
    }

    fn pause(&self, _ctx: &TtrpcContext, req: PauseRequest) -> TtrpcResult<Empty> {
        let c = self.container(&req.id)?;
        c.runtime.pause(&req.id).map_err(|e| Error::Other(e.to_string()))?;
        self.publish(TaskPaused { container_id: req.id, ..Default::default() });
        Ok(Empty::new())
    }

    fn resume(&self, _ctx: &TtrpcContext, req: ResumeRequest) -> TtrpcResult<Empty> {
        let c = self.container(&req.id)?;
        c.runtime.resume(&req.id).map_err(|e| Error::Other(e.to_string()))?;
        self.publish(TaskResumed { container_id: req.id, ..Default::default() });
        Ok(Empty::new())
    }

    fn kill(&self, _ctx: &TtrpcContext, req: KillRequest) -> TtrpcResult<Empty> {
        Ok(self.do_kill(req)?)
    }

    fn exec(&self, _ctx: &TtrpcContext, req: ExecProcessRequest) -> TtrpcResult<Empty> {
        Ok(self.do_exec(req)?)
    }

    fn resize_pty(&self, _ctx: &TtrpcContext, req: ResizePtyRequest) -> TtrpcResult<Empty> {
        // A process without a terminal has nothing to resize (as the runc shim answers).
        if let Some(t) = self.terminal_of(&req.id, &req.exec_id)? {
            t.resize(req.width, req.height).map_err(Error::Other)?;
        }
        Ok(Empty::new())
    }

    fn close_io(&self, _ctx: &TtrpcContext, req: CloseIORequest) -> TtrpcResult<Empty> {
        // Without a terminal stdin is containerd's fifo, read by the process itself: it sees
        // EOF when containerd closes its end. With one, the shim stops copying it.
        if let Some(t) = self.terminal_of(&req.id, &req.exec_id)? {
            t.close_stdin();
        }
        Ok(Empty::new())
    }

    fn update(&self, _ctx: &TtrpcContext, req: UpdateTaskRequest) -> TtrpcResult<Empty> {
        let c = self.container(&req.id)?;
        let resources = req.resources.as_ref().map(|a| a.value.clone()).unwrap_or_default();
        let file = c.bundle.join("isola-update.json");
        std::fs::write(&file, resources).map_err(|e| Error::Other(format!("{}: {e}", file.display())))?;
        let result = c.runtime.update(&req.id, &file);
        let _ = std::fs::remove_file(&file);
        result.map_err(|e| Error::Other(e.to_string()))?;
        Ok(Empty::new())
    }

    fn wait(&self, _ctx: &TtrpcContext, req: WaitRequest) -> TtrpcResult<WaitResponse> {
        Ok(self.do_wait(req)?)
    }

    fn stats(&self, _ctx: &TtrpcContext, req: StatsRequest) -> TtrpcResult<StatsResponse> {
        let c = self.container(&req.id)?;
        let pid = c.init.pid();
        if c.init.exit.get().is_some() {
            return Err(Error::NotFoundError(format!("container {}: process already finished", req.id)).into());
        }
        // cgroup v1 and v2 alike in containerd's v1 metrics message (what the runc shim of
        // containerd 1.x reports too).
        let cgroup = containerd_shim::cgroup::get_cgroup(pid)?;
        let mut metrics = containerd_shim::cgroup::collect_metrics(&cgroup)?;
        if let Some(usage) = cpuacct_usage(pid) {
            metrics.cpu.mut_or_insert_default().usage.mut_or_insert_default().total = usage;
        }
        let stats = convert_to_any(Box::new(metrics))?;
        Ok(StatsResponse { stats: Some(stats).into(), ..Default::default() })
    }

    fn connect(&self, _ctx: &TtrpcContext, req: ConnectRequest) -> TtrpcResult<ConnectResponse> {
        let task_pid = self.containers.lock().unwrap().get(&req.id).map(|c| c.init.pid()).unwrap_or_default();
        Ok(ConnectResponse { shim_pid: std::process::id(), task_pid, version: env!("CARGO_PKG_VERSION").into(), ..Default::default() })
    }

    fn state(&self, _ctx: &TtrpcContext, req: StateRequest) -> TtrpcResult<StateResponse> {
        Ok(self.do_state(req)?)
    }

    fn shutdown(&self, _ctx: &TtrpcContext, _req: ShutdownRequest) -> TtrpcResult<Empty> {
        if self.containers.lock().unwrap().is_empty() {
            self.exit.signal();
        }
        Ok(Empty::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_id_groups_a_pod() {
        let dir = std::env::temp_dir().join(format!("isola-shim-group-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.json");
        std::fs::write(&config, r#"{"annotations":{"io.kubernetes.cri.sandbox-id":"abc"}}"#).unwrap();
        assert_eq!(sandbox_id(&config).as_deref(), Some("abc"));
        std::fs::write(&config, r#"{"annotations":{}}"#).unwrap();
        assert_eq!(sandbox_id(&config), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
