//! The process's own metrics, read at each scrape: CPU time, memory, open
//! files, threads and start time, under the names Prometheus's client
//! libraries give them (`process_*`), so existing dashboards and alerts
//! work unchanged. Read from `/proc` (Linux); elsewhere none are reported.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reports [`Process`] at each scrape.
#[derive(Debug)]
pub(crate) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(process) = Process::read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(process.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                Some(process.resident_bytes as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                Some(process.virtual_bytes as f64),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                Some(process.open_fds as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                process.max_fds.map(|max| max as f64),
            ),
            (
                "process_threads",
                "Number of OS threads in the process.",
                Some(process.threads as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                process.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            let Some(value) = value else { continue };
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

/// What the kernel says of this process.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Process {
    pub(crate) cpu_seconds: f64,
    pub(crate) resident_bytes: u64,
    pub(crate) virtual_bytes: u64,
    pub(crate) open_fds: u64,
    pub(crate) max_fds: Option<u64>,
    pub(crate) threads: u64,
    pub(crate) start_time_seconds: Option<f64>,
}

impl Process {
    /// This process, now; `None` where `/proc` cannot tell.
    #[cfg(target_os = "linux")]
    pub(crate) fn read() -> Option<Process> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|text| boot_time(&text));
        let max_fds = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        Process::from_stat(
            &stat,
            rustix::param::clock_ticks_per_second(),
            rustix::param::page_size() as u64,
            boot,
            open_fds,
            max_fds,
        )
    }

    /// This process, now; `None` where `/proc` cannot tell.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn read() -> Option<Process> {
        None
    }

    /// From the text of `/proc/self/stat` (proc(5)): its fields after the
    /// command name, which is in parentheses and may hold spaces.
    fn from_stat(
        stat: &str,
        ticks_per_second: u64,
        page_bytes: u64,
        boot_time: Option<u64>,
        open_fds: u64,
        max_fds: Option<u64>,
    ) -> Option<Process> {
        let after_name = &stat[stat.rfind(')')? + 1..];
        // Field 3 (state) is the first here; field N is at N - 3.
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        let ticks = ticks_per_second.max(1) as f64;
        let cpu_seconds = (field(14)? + field(15)?) as f64 / ticks;
        let started = field(22)? as f64 / ticks;
        let start_time_seconds = boot_time.map(|boot| boot as f64 + started);
        Some(Process {
            cpu_seconds,
            resident_bytes: field(24)?.saturating_mul(page_bytes),
            virtual_bytes: field(23)?,
            open_fds,
            max_fds,
            threads: field(20)?,
            start_time_seconds,
        })
    }
}

/// The boot time in `/proc/stat` (`btime`), seconds since the epoch.
fn boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stat_line_is_read_by_field_number() {
        // A command name with a space and a parenthesis, as proc(5) allows.
        let stat = "4242 (ledger (node)) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    250 50 0 0 20 0 17 0 1000 123456789 5000 18446744073709551615";
        let process = Process::from_stat(stat, 100, 4096, Some(1_700_000_000), 12, Some(1024))
            .expect("reads");
        assert_eq!(process.cpu_seconds, 3.0);
        assert_eq!(process.threads, 17);
        assert_eq!(process.virtual_bytes, 123_456_789);
        assert_eq!(process.resident_bytes, 5000 * 4096);
        assert_eq!(process.start_time_seconds, Some(1_700_000_010.0));
        assert_eq!((process.open_fds, process.max_fds), (12, Some(1024)));
    }

    #[test]
    fn the_boot_time_is_found() {
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(boot_time("cpu 1 2 3\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_can_be_read() {
        let process = Process::read().expect("reads /proc");
        assert!(process.resident_bytes > 0 && process.threads >= 1 && process.open_fds > 0);
    }
}
