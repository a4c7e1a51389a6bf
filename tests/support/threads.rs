//! The threads of a process as Linux shows them in `/proc`, shared by the
//! tests of the node binary and of `ledger-chain` (which includes this
//! file by path).

#![allow(dead_code, unreachable_pub)]

/// The name and nice value of each thread of `process` (a pid, or
/// `self`), skipping threads that end while it reads.
#[cfg(target_os = "linux")]
pub fn thread_nice_values(process: &str) -> Vec<(String, i32)> {
    let mut threads = Vec::new();
    let tasks = format!("/proc/{process}/task");
    for task in std::fs::read_dir(&tasks).expect("/proc/…/task") {
        let task = task.expect("a task").path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("stat")),
        ) else {
            continue;
        };
        threads.push((comm.trim_end().to_owned(), nice_in(&stat)));
    }
    threads
}

/// The nice value in a thread's `/proc/…/stat`.
#[cfg(target_os = "linux")]
pub fn nice_in(stat: &str) -> i32 {
    // After "pid (comm) ", the fields from the third (state) on; the
    // nineteenth is the nice value.
    let fields: Vec<&str> = stat[stat.rfind(") ").expect("stat") + 2..]
        .split_whitespace()
        .collect();
    fields[19 - 3].parse().expect("a nice value")
}
