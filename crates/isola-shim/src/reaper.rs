//! Exit statuses of the processes the shim started (container inits and execs, its children
//! once libcontainer's intermediate process is gone: the shim is a child subreaper). Only
//! watched pids are waited for, on each SIGCHLD: the runtime's own children (libcontainer's
//! intermediate, the bounded compile) stay for the calls that wait for them, and the runtime's
//! background compiles are reaped by the runtime's own list once they end.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, Once};

use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// One process's exit, once known.
#[derive(Default)]
pub struct Exit {
    status: Mutex<Option<(u32, Timestamp)>>,
    cond: Condvar,
}

impl Exit {
    pub fn get(&self) -> Option<(u32, Timestamp)> {
        self.status.lock().unwrap().clone()
    }

    /// Blocks until the process has exited.
    pub fn wait(&self) -> (u32, Timestamp) {
        let mut s = self.status.lock().unwrap();
        loop {
            if let Some(v) = s.as_ref() {
                return v.clone();
            }
            s = self.cond.wait(s).unwrap();
        }
    }

    /// Waits at most `timeout` for the exit.
    pub fn wait_for(&self, timeout: std::time::Duration) -> Option<(u32, Timestamp)> {
        let s = self.status.lock().unwrap();
        let (s, _) = self.cond.wait_timeout_while(s, timeout, |s| s.is_none()).unwrap();
        s.clone()
    }

    fn set(&self, code: u32) -> (u32, Timestamp) {
        let ts = containerd_shim::util::timestamp().unwrap_or_default();
        let mut s = self.status.lock().unwrap();
        let v = s.get_or_insert((code, ts)).clone();
        self.cond.notify_all();
        v
    }
}

type OnExit = Box<dyn FnOnce(u32, Timestamp) + Send>;

struct Watch {
    exit: Arc<Exit>,
    on_exit: OnExit,
}

static WATCHED: Mutex<Option<HashMap<i32, Watch>>> = Mutex::new(None);
static START: Once = Once::new();

/// Watches `pid`: its exit is recorded in `exit`, then `on_exit` runs (on the reaper thread).
pub fn watch(pid: i32, exit: Arc<Exit>, on_exit: OnExit) {
    START.call_once(|| {
        let mut signals = signal_hook::iterator::Signals::new([libc::SIGCHLD]).expect("SIGCHLD handler");
        std::thread::Builder::new()
            .name("reaper".into())
            .spawn(move || {
                for _ in signals.forever() {
                    reap();
                }
            })
            .expect("reaper thread");
    });
    WATCHED.lock().unwrap().get_or_insert_with(HashMap::new).insert(pid, Watch { exit, on_exit });
    // It may have exited before it was watched (its SIGCHLD already consumed).
    reap();
}

/// Stops watching `pid` (a container deleted before its init was seen to exit).
pub fn unwatch(pid: i32) {
    if let Some(m) = WATCHED.lock().unwrap().as_mut() {
        m.remove(&pid);
    }
}

fn reap() {
    let mut done = Vec::new();
    {
        let mut guard = WATCHED.lock().unwrap();
        let Some(m) = guard.as_mut() else { return };
        let pids: Vec<i32> = m.keys().copied().collect();
        for pid in pids {
            let code = match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => code as u32,
                Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as u32,
                Ok(_) => continue,
                // Not our child: gone without a status we can read, or not reparented yet.
                Err(Errno::ECHILD) if nix::sys::signal::kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH) => 255,
                Err(_) => continue,
            };
            if let Some(w) = m.remove(&pid) {
                done.push((w, code));
            }
        }
    }
    for (w, code) in done {
        let (code, ts) = w.exit.set(code);
        (w.on_exit)(code, ts);
    }
    // The runtime's background compiles (tiered wasm starts) are this process's children too.
    isola_runtime::reap_finished_background_compiles();
}
