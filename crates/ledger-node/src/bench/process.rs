//! The node under test as a process: starting one of our own, and what
//! Linux says about a process's CPU time (per thread) and memory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

/// A node this run started, on a temporary data directory; killed when
/// dropped.
pub(crate) struct OwnNode {
    child: Child,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl OwnNode {
    /// Starts `ledger-node run` (this same binary) on `genesis` with
    /// `extra` options, and waits until it listens.
    pub(crate) fn start(genesis: &str, extra: &[String]) -> anyhow::Result<OwnNode> {
        let dir = tempfile::tempdir().context("cannot create a temporary data directory")?;
        let genesis_path = dir.path().join("genesis.json");
        std::fs::write(&genesis_path, genesis).context("cannot write the genesis")?;
        let data = dir.path().join("data");
        let exe = std::env::current_exe().context("cannot find this program")?;
        let (child, url) = spawn(&exe, &genesis_path, &data, extra)?;
        Ok(OwnNode {
            child,
            url,
            _dir: dir,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for OwnNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `exe run` on `data` and returns it with its URL, once it listens
/// (on a free port unless `extra` names `--ws`).
pub(crate) fn spawn(
    exe: &Path,
    genesis: &Path,
    data: &Path,
    extra: &[String],
) -> anyhow::Result<(Child, String)> {
    let mut command = Command::new(exe);
    command
        .arg("run")
        .arg("--data-dir")
        .arg(data)
        .arg("--genesis")
        .arg(genesis);
    if !extra.iter().any(|arg| arg == "--ws") {
        command.args(["--ws", "127.0.0.1:0"]);
    }
    let mut child = command
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the node")?;
    let stdout = child.stdout.take().context("the node's output")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("ledger-node listening on ") {
                    break url.to_owned();
                }
            }
            Some(Err(error)) => return Err(error).context("reading the node's output"),
            None => {
                let status = child.wait()?;
                bail!("the node exited before listening ({status})");
            }
        }
    };
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Ok((child, url))
}

/// CPU time and memory of one process at one moment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Usage {
    /// CPU time of the whole process, including threads that ended, µs.
    pub(crate) cpu_us: u64,
    /// CPU time of its live threads, grouped by thread name, µs.
    pub(crate) threads_us: BTreeMap<String, u64>,
    /// Resident memory now and at its peak, KiB.
    pub(crate) rss_kib: u64,
    pub(crate) peak_rss_kib: u64,
}

/// Clock ticks per second of `/proc/*/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

impl Usage {
    /// Reads `/proc/PID`: `None` if the process is gone or this is not Linux.
    pub(crate) fn of(pid: u32) -> Option<Usage> {
        let root = format!("/proc/{pid}");
        let stat = std::fs::read_to_string(format!("{root}/stat")).ok()?;
        let cpu_us = stat_cpu_ticks(&stat)? * (1_000_000 / TICKS_PER_SECOND);
        let status = std::fs::read_to_string(format!("{root}/status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        };
        let mut threads_us = BTreeMap::new();
        for task in std::fs::read_dir(format!("{root}/task")).ok()?.flatten() {
            let path = task.path();
            let (Ok(name), Ok(schedstat)) = (
                std::fs::read_to_string(path.join("comm")),
                std::fs::read_to_string(path.join("schedstat")),
            ) else {
                continue; // ended meanwhile
            };
            // The first field is the time on a CPU, in nanoseconds.
            let Some(ns) = schedstat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
            else {
                continue;
            };
            *threads_us.entry(thread_group(name.trim())).or_default() += ns / 1000;
        }
        Some(Usage {
            cpu_us,
            threads_us,
            rss_kib: field("VmRSS:")?,
            peak_rss_kib: field("VmHWM:")?,
        })
    }

    /// This process.
    pub(crate) fn own() -> Option<Usage> {
        Usage::of(std::process::id())
    }

    /// CPU time of thread group `name` since `before`, µs.
    pub(crate) fn threads_since(&self, before: &Usage, name: &str) -> u64 {
        let now = self.threads_us.get(name).copied().unwrap_or(0);
        now.saturating_sub(before.threads_us.get(name).copied().unwrap_or(0))
    }
}

/// User plus system time, in ticks, from a `/proc/PID/stat` line. The
/// command name (field 2) is in parentheses and may hold spaces, so fields
/// are counted after its closing parenthesis.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line are utime and stime: 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The group a node thread's time is reported under.
pub(crate) fn thread_group(name: &str) -> String {
    match name {
        "chain" => "chain",
        // The committer of ADR 14: one block's write and sync at a time.
        "chain-store" => "store",
        // Tokio's workers and blocking threads, and the main thread that
        // drives the runtime: the API's connections.
        name if name.starts_with("tokio") || name == "ledger-node" => "connections",
        _ => "storage and other",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_past_a_name_with_spaces_and_parentheses() {
        let stat = "1234 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 4 0";
        assert_eq!(stat_cpu_ticks(stat), Some(325));
        assert_eq!(stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn this_process_can_be_read() {
        let usage = Usage::own().expect("Linux /proc");
        assert!(usage.rss_kib > 0 && usage.peak_rss_kib >= usage.rss_kib);
        assert!(!usage.threads_us.is_empty());
    }
}
