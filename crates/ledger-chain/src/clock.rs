//! Where the chain gets its time: block timestamps and the block interval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The time, as the chain sees it.
pub trait Clock: Send + 'static {
    /// Nanoseconds since the Unix epoch, for timestamps reported to clients.
    fn unix_nanos(&self) -> u64;
    /// Seconds since the Unix epoch, for block timestamps.
    fn unix_seconds(&self) -> u32 {
        u32::try_from(self.unix_nanos() / 1_000_000_000).unwrap_or(u32::MAX)
    }
    /// Monotonic time since some fixed origin, for the block interval.
    fn elapsed(&self) -> Duration;
    /// The CPU time the calling thread has used, where the platform tells:
    /// for metrics alone (a wall-clock timer would also count the time the
    /// thread waited for a core); nothing the chain decides depends on it.
    fn thread_cpu(&self) -> Option<Duration> {
        None
    }
}

/// The system's clocks.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// The system clock, its monotonic origin now.
    pub fn new() -> SystemClock {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn unix_nanos(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    #[cfg(target_os = "linux")]
    fn thread_cpu(&self) -> Option<Duration> {
        let used = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        let seconds = u64::try_from(used.tv_sec).ok()?;
        let nanos = u32::try_from(used.tv_nsec).ok()?;
        Some(Duration::new(seconds, nanos))
    }
}

/// A clock that moves only when told to: for tests and simulations that
/// replay. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    /// Milliseconds since the origin; the Unix time is `start` plus them.
    millis: Arc<AtomicU64>,
    start: u32,
}

impl ManualClock {
    /// A clock at Unix time `start`, its monotonic time zero.
    pub fn new(start: u32) -> ManualClock {
        ManualClock {
            millis: Arc::new(AtomicU64::new(0)),
            start,
        }
    }

    /// Moves the clock forward by `by` (whole milliseconds).
    pub fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.millis.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix_nanos(&self) -> u64 {
        let millis = self.millis.load(Ordering::SeqCst);
        u64::from(self.start)
            .saturating_mul(1_000_000_000)
            .saturating_add(millis.saturating_mul(1_000_000))
    }

    fn unix_seconds(&self) -> u32 {
        let seconds = self.millis.load(Ordering::SeqCst) / 1000;
        self.start
            .saturating_add(u32::try_from(seconds).unwrap_or(u32::MAX))
    }

    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.millis.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_system_clock_tells_the_threads_own_cpu_time() {
        let clock = SystemClock::new();
        let wall = Instant::now();
        let before = clock.thread_cpu().expect("Linux tells a thread's CPU time");
        // Work until the thread's CPU clock moves (a few ms at most).
        let mut spins = 0u64;
        let after = loop {
            spins = std::hint::black_box(spins.wrapping_add(1));
            let now = clock.thread_cpu().expect("still tells");
            if now > before + Duration::from_micros(500) {
                break now;
            }
        };
        assert!(
            after - before <= wall.elapsed(),
            "one thread cannot use more CPU than the time that passed"
        );
    }
}
