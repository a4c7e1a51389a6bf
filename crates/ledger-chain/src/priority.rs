//! The scheduling priority of the service's threads.
//!
//! The chain thread and the thread that stores blocks are the serial
//! stages every block passes through; the connection threads around them
//! do work that spreads over every core. When the cores are busy, a
//! stored block waiting for a core holds up everything behind it, so a
//! node may ask for its service threads to run ahead (a lower nice
//! value). Below the nice value a thread started with, Linux asks for
//! `CAP_SYS_NICE` (or a raised `RLIMIT_NICE`); where it refuses, the
//! thread runs as it was started and the log says so.

/// Asks for the calling thread, named `thread` in the log, to run at
/// `nice` (-20, first, to 19, last); `None` leaves it as it started.
pub(crate) fn run_current_thread_at(nice: Option<i32>, thread: &'static str) {
    let Some(nice) = nice else { return };
    match set_current_thread_nice(nice) {
        Ok(()) => tracing::debug!(thread, nice, "thread priority set"),
        Err(error) => tracing::info!(
            thread,
            nice,
            %error,
            "the thread keeps the priority it started with (a lower nice value needs CAP_SYS_NICE)"
        ),
    }
}

#[cfg(target_os = "linux")]
fn set_current_thread_nice(nice: i32) -> std::io::Result<()> {
    // On Linux each thread has its own nice value, and a thread id names
    // the thread alone for `setpriority(PRIO_PROCESS, …)`.
    let thread = rustix::thread::gettid();
    rustix::process::setpriority_process(Some(thread), nice)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_current_thread_nice(_nice: i32) -> std::io::Result<()> {
    // Elsewhere the call would set the whole process's priority.
    Err(std::io::ErrorKind::Unsupported.into())
}

/// The nice value of the calling thread.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn current_thread_nice() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("a thread's nice")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_runs_at_the_nice_value_it_asked_for_and_others_do_not_move() {
        let before = current_thread_nice();
        // A higher nice value than the thread's own is always allowed.
        let asked = (before + 3).min(19);
        let (set, other) = std::thread::scope(|scope| {
            let set = scope.spawn(|| {
                run_current_thread_at(Some(asked), "test");
                current_thread_nice()
            });
            let set = set.join().expect("no panic");
            let other = scope.spawn(current_thread_nice).join().expect("no panic");
            (set, other)
        });
        assert_eq!(set, asked);
        assert_eq!(other, before, "a thread spawned elsewhere keeps its nice");
        assert_eq!(current_thread_nice(), before);
    }
}
