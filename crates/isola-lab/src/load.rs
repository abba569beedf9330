//! CPU-bound neighbours for the start-up suite's busy arm: one spinning process per core at normal
//! priority, so each start competes for every CPU as on a loaded node. Bounded twice: each stops
//! itself after its time limit (SIGALRM) or when the lab dies, and dropping the guard kills them.

use std::time::Duration;

use anyhow::Result;

/// The running neighbours; dropping this kills and reaps them.
pub struct Neighbours {
    pids: Vec<libc::pid_t>,
}

impl Neighbours {
    /// Starts `n` spinning processes, each ending itself after `limit` at the latest.
    pub fn start(n: usize, limit: Duration) -> Result<Self> {
        let mut me = Neighbours { pids: Vec::with_capacity(n) };
        let secs = limit.as_secs().clamp(1, u32::MAX as u64) as libc::c_uint;
        for _ in 0..n {
            // SAFETY: the child only makes async-signal-safe calls (prctl, alarm, getppid) and
            // spins; it never returns into Rust code that could touch the parent's locks.
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                anyhow::bail!("fork a CPU-bound neighbour: {}", std::io::Error::last_os_error());
            }
            if pid == 0 {
                unsafe {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                    libc::alarm(secs);
                    let mut x: u64 = 0;
                    loop {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                }
            }
            me.pids.push(pid);
        }
        Ok(me)
    }
}

impl Drop for Neighbours {
    fn drop(&mut self) {
        for &pid in &self.pids {
            // SAFETY: signalling and reaping children this guard forked.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// One neighbour per CPU this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pid: libc::pid_t) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(") ")?.1.chars().next()
    }

    #[test]
    fn neighbours_spin_and_are_gone_after_drop() {
        let n = Neighbours::start(2, Duration::from_secs(60)).unwrap();
        assert_eq!(n.pids.len(), 2);
        let pids = n.pids.clone();
        std::thread::sleep(Duration::from_millis(200));
        // Each has burnt CPU time (utime, field 14 of /proc/PID/stat) since it started.
        for &pid in &pids {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let utime: u64 = stat.rsplit_once(") ").unwrap().1.split(' ').nth(11).unwrap().parse().unwrap();
            assert!(utime > 0, "neighbour {pid} has not run: {stat}");
        }
        drop(n);
        for pid in pids {
            assert_eq!(state(pid), None, "neighbour {pid} outlived its guard");
        }
    }

    #[test]
    fn a_neighbour_ends_itself_at_its_time_limit() {
        let n = Neighbours::start(1, Duration::from_secs(1)).unwrap();
        let pid = n.pids[0];
        std::thread::sleep(Duration::from_millis(1500));
        // Ended by its own alarm: a zombie until the guard reaps it.
        assert_eq!(state(pid), Some('Z'));
        drop(n);
        assert_eq!(state(pid), None);
    }
}
