//! Coarsened clocks for the guest: wall and monotonic time rounded down to a configured
//! resolution, and that resolution reported by `clock_res_get`. This narrows timing side
//! channels; it must never report a finer resolution than it delivers, or run backwards.

use std::time::{Duration, Instant, SystemTime};

use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// Rounds `nanos` down to a multiple of `res` (no-op when `res` is 0).
fn floor_to(nanos: u128, res: u128) -> u128 {
    if res == 0 {
        nanos
    } else {
        nanos - nanos % res
    }
}

fn host_resolution(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_getres only writes into it.
    let rc = unsafe { libc::clock_getres(clock, &mut ts) };
    if rc != 0 {
        return Duration::from_nanos(1);
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Wall clock (`CLOCK_REALTIME`, Unix time) rounded down to `resolution`.
pub struct CoarseWallClock {
    resolution: Duration,
}

impl CoarseWallClock {
    /// A wall clock that never reveals more than `resolution` (at least the host's resolution).
    pub fn new(resolution: Duration) -> Self {
        Self {
            resolution: resolution.max(host_resolution(libc::CLOCK_REALTIME)),
        }
    }
}

impl HostWallClock for CoarseWallClock {
    fn resolution(&self) -> Duration {
        self.resolution
    }

    fn now(&self) -> Duration {
        let since_epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let n = floor_to(since_epoch.as_nanos(), self.resolution.as_nanos());
        Duration::new((n / 1_000_000_000) as u64, (n % 1_000_000_000) as u32)
    }
}

/// Monotonic clock (nanoseconds since the guest started) rounded down to `resolution`.
pub struct CoarseMonotonicClock {
    start: Instant,
    resolution: Duration,
}

impl CoarseMonotonicClock {
    /// A monotonic clock that never reveals more than `resolution` (at least the host's).
    pub fn new(resolution: Duration) -> Self {
        Self {
            start: Instant::now(),
            resolution: resolution.max(host_resolution(libc::CLOCK_MONOTONIC)),
        }
    }
}

impl HostMonotonicClock for CoarseMonotonicClock {
    fn resolution(&self) -> u64 {
        u64::try_from(self.resolution.as_nanos()).unwrap_or(u64::MAX)
    }

    fn now(&self) -> u64 {
        let n = floor_to(self.start.elapsed().as_nanos(), self.resolution.as_nanos());
        u64::try_from(n).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_clocks_return_multiples_of_the_resolution() {
        let res = Duration::from_millis(10);
        let wall = CoarseWallClock::new(res);
        let mono = CoarseMonotonicClock::new(res);
        assert_eq!(wall.resolution(), res);
        assert_eq!(mono.resolution(), 10_000_000);
        for _ in 0..100 {
            assert_eq!(wall.now().as_nanos() % res.as_nanos(), 0);
            assert_eq!(mono.now() % 10_000_000, 0);
        }
    }
}
