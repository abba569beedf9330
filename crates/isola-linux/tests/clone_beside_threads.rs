//! The container's first process cloned from a process whose other threads allocate (isola's
//! shim): with libcontainer's raw clone3 a child can inherit malloc's lock held and wait forever
//! on its first allocation; with `set_multithreaded_caller` (glibc's fork) none does.
//! One test, since the flag is process-wide.

use isola_linux::libcontainer::process::{container_clone_into, set_multithreaded_caller};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clones a child that allocates and exits 0; true if it did so within `limit`, false if it had
/// to be killed (it hung).
fn clone_an_allocating_child(limit: Duration) -> bool {
    let pid = container_clone_into(
        Box::new(|| {
            let mut kept = Vec::new();
            for i in 0..64usize {
                kept.push(vec![i as u8; 64 + i * 32]);
            }
            i32::from(kept.len() != 64)
        }),
        None,
    )
    .expect("clone")
    .as_raw();
    let deadline = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status:#x}");
            return true;
        }
        if Instant::now() > deadline {
            // SAFETY: killing and reaping our own hung child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn a_child_cloned_beside_allocating_threads_never_hangs_with_the_fork_safe_clone() {
    // As in isola's shim: one arena shared by every thread (set before any thread exists).
    // SAFETY: mallopt at the start of the test binary's only test.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    let stop = Arc::new(AtomicBool::new(false));
    let hammers: Vec<_> = (0..2)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut n = 0usize;
                // Bounded: until told to stop, or 120 s at most.
                while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
                    let v: Vec<u8> = Vec::with_capacity(16 + (n * 37 + t * 11) % 4000);
                    std::hint::black_box(&v);
                    n += 1;
                }
            })
        })
        .collect();

    // Negative control: the raw clone3 does hang a child now and then under this load.
    set_multithreaded_caller(false);
    let raw_hung = (0..400).any(|_| !clone_an_allocating_child(Duration::from_millis(500)));

    set_multithreaded_caller(true);
    let forked_hung = (0..300).filter(|_| !clone_an_allocating_child(Duration::from_secs(3))).count();

    stop.store(true, Ordering::Relaxed);
    for h in hammers {
        h.join().unwrap();
    }
    assert!(raw_hung, "negative control: no raw clone3 child hung in 400 tries beside two allocating threads");
    assert_eq!(forked_hung, 0, "children that hung with the fork-safe clone, of 300");
}
