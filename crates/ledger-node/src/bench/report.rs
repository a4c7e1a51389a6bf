//! What a run reports: as a table for people, as JSON for plots and
//! comparisons. Every speed is given beside the raw recovery rate of the
//! same run on the same machine, and as a ratio to it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::load::{quantile, Outcome};

/// One run.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Report {
    /// What ran it: `ledger-node` and its version, or a peer's name.
    pub(crate) node: String,
    /// What each transfer was (reports from before the ERC-20 workload
    /// are native).
    #[serde(default)]
    pub(crate) workload: super::plan::Workload,
    pub(crate) transfers: usize,
    pub(crate) senders: usize,
    pub(crate) connections: usize,
    pub(crate) window: usize,
    /// Transfers per second offered; `None`: as fast as possible.
    pub(crate) offered_per_second: Option<f64>,
    /// The storage engine of the node, when this run started it.
    pub(crate) store: Option<String>,
    pub(crate) seconds: f64,
    pub(crate) committed_per_second: f64,
    /// Raw `secp256k1` recoveries per second on every core, measured in
    /// the same run: the baseline.
    pub(crate) raw_recover_per_second: f64,
    pub(crate) cores: usize,
    /// `committed_per_second` ÷ `raw_recover_per_second`.
    pub(crate) ratio_to_raw: f64,
    pub(crate) pending_ms: Latency,
    pub(crate) final_ms: Latency,
    /// The node's CPU and memory, when its process could be read.
    pub(crate) node_cost: Option<NodeCost>,
    /// CPU of this load generator per transfer, µs.
    pub(crate) generator_us_per_transfer: f64,
    /// Transfers without a Success final status.
    pub(crate) failed: usize,
    /// Whether every balance was as the transfers say.
    pub(crate) balances_checked: bool,
}

/// Latency quantiles, milliseconds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Latency {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl Latency {
    pub(crate) fn of(mut values: Vec<Duration>) -> Latency {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Latency {
            p50: ms(quantile(&mut values, 0.5)),
            p99: ms(quantile(&mut values, 0.99)),
            max: ms(quantile(&mut values, 1.0)),
        }
    }

    /// Of the Pending answers and of the final statuses.
    pub(crate) fn of_outcomes(outcomes: &[Outcome]) -> (Latency, Latency) {
        (
            Latency::of(outcomes.iter().map(|o| o.pending).collect()),
            Latency::of(outcomes.iter().map(|o| o.done).collect()),
        )
    }
}

/// The node's CPU per committed transfer, by stage, and its memory.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct NodeCost {
    /// All of the node's CPU time over the run, per transfer, µs.
    pub(crate) us_per_transfer: f64,
    /// Its split, µs per transfer: stage name → time.
    pub(crate) stages: BTreeMap<String, f64>,
    pub(crate) rss_before_mib: f64,
    pub(crate) rss_after_mib: f64,
    pub(crate) peak_rss_mib: f64,
}

/// The stage names, in the order the table shows them.
pub(crate) const STAGES: [&str; 6] = [
    "recovery",
    "json, websocket",
    "admission, announce",
    "execution",
    "commit",
    "storage threads, other",
];

impl Report {
    /// The table people read.
    pub(crate) fn text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let offered = self
            .offered_per_second
            .map_or("as fast as possible".to_owned(), |rate| {
                format!("{rate:.0}/s")
            });
        let _ = writeln!(
            out,
            "\n{} · {} {} from {} senders over {} connections ({} in flight each), offered {offered}{}",
            self.node,
            self.transfers,
            match self.workload {
                super::plan::Workload::Native => "transfers",
                super::plan::Workload::Erc20 => "ERC-20 transfers",
            },
            self.senders,
            self.connections,
            self.window,
            self.store
                .as_deref()
                .map_or(String::new(), |store| format!(", store {store}")),
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| measure | value |");
        let _ = writeln!(out, "|---|---|");
        let _ = writeln!(
            out,
            "| committed transfers/s | {:.0} ({:.3} × raw recovery) |",
            self.committed_per_second, self.ratio_to_raw
        );
        let _ = writeln!(
            out,
            "| raw secp256k1 recover/s, {} cores, same run | {:.0} |",
            self.cores, self.raw_recover_per_second
        );
        let _ = writeln!(out, "| duration | {:.2} s |", self.seconds);
        for (what, latency) in [
            ("Pending", &self.pending_ms),
            ("final status", &self.final_ms),
        ] {
            let _ = writeln!(
                out,
                "| {what} p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
                latency.p50, latency.p99, latency.max
            );
        }
        if let Some(cost) = &self.node_cost {
            let _ = writeln!(
                out,
                "| node CPU per transfer | {:.1} µs |",
                cost.us_per_transfer
            );
            for stage in STAGES {
                if let Some(us) = cost.stages.get(stage) {
                    let _ = writeln!(out, "| · {stage} | {us:.1} µs |");
                }
            }
            let _ = writeln!(
                out,
                "| node RSS before / after / peak | {:.0} / {:.0} / {:.0} MiB |",
                cost.rss_before_mib, cost.rss_after_mib, cost.peak_rss_mib
            );
        }
        let _ = writeln!(
            out,
            "| load generator CPU per transfer | {:.1} µs |",
            self.generator_us_per_transfer
        );
        let _ = writeln!(
            out,
            "| failed / balances | {} / {} |",
            self.failed,
            if self.balances_checked {
                "all as expected"
            } else {
                "NOT as expected"
            }
        );
        out.trim_end().to_owned()
    }
}
