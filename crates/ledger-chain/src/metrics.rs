//! What the chain counts for operators: blocks, applied transactions by
//! status, the mempool, and what storing a block costs. Prometheus types
//! (atomics), so readers never wait on the chain thread; the API server
//! registers them beside its own and serves them on `/metrics`.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use ledger_core::{BlockChanges, Mempool, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The `status` label of applied transactions: the final status's name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

/// The chain's metrics. Clones share the same values.
#[derive(Clone, Debug)]
pub struct ChainMetrics {
    height: Gauge,
    blocks: Counter,
    transactions: Family<StatusLabel, Counter>,
    mempool_transactions: Gauge,
    mempool_bytes: Gauge,
    build_seconds: Histogram,
    /// The chain thread's CPU time in building blocks, where the platform
    /// tells it ([`crate::Clock::thread_cpu`]).
    build_cpu_seconds: Counter<f64, AtomicU64>,
    commit_seconds: Histogram,
    bytes_written: Counter,
}

impl Default for ChainMetrics {
    fn default() -> Self {
        ChainMetrics {
            height: Gauge::default(),
            blocks: Counter::default(),
            transactions: Family::default(),
            mempool_transactions: Gauge::default(),
            mempool_bytes: Gauge::default(),
            // 50 µs to ~1.6 s.
            build_seconds: Histogram::new(exponential_buckets(50e-6, 2.0, 16)),
            build_cpu_seconds: Counter::default(),
            commit_seconds: Histogram::new(exponential_buckets(50e-6, 2.0, 16)),
            bytes_written: Counter::default(),
        }
    }
}

impl ChainMetrics {
    /// Adds every metric to `registry` under its `ledger_` name.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "ledger_chain_height",
            "Depth of the newest stored block",
            self.height.clone(),
        );
        registry.register(
            "ledger_blocks",
            "Blocks stored since the node started",
            self.blocks.clone(),
        );
        registry.register(
            "ledger_transactions",
            "Transactions applied in stored blocks, by final status",
            self.transactions.clone(),
        );
        registry.register(
            "ledger_mempool_transactions",
            "Transactions pending in the mempool",
            self.mempool_transactions.clone(),
        );
        registry.register(
            "ledger_mempool_bytes",
            "Size of the transactions pending in the mempool, in bytes",
            self.mempool_bytes.clone(),
        );
        registry.register(
            "ledger_block_build_seconds",
            "Time to choose one block's transactions and execute them",
            self.build_seconds.clone(),
        );
        registry.register(
            "ledger_block_build_cpu_seconds",
            "CPU time of the chain thread in choosing blocks' transactions and executing them",
            self.build_cpu_seconds.clone(),
        );
        registry.register(
            "ledger_block_commit_seconds",
            "Time to write one block's batch and make it durable",
            self.commit_seconds.clone(),
        );
        registry.register(
            "ledger_store_bytes_written",
            "Bytes of keys and values handed to storage since the node started",
            self.bytes_written.clone(),
        );
    }

    /// Counts a stored block: its transactions by status, the time its
    /// commit took, and the store's bytes written so far.
    pub fn stored(&self, changes: &BlockChanges, commit: Duration, bytes_written: u64) {
        self.height
            .set(i64::try_from(changes.block.depth).unwrap_or(i64::MAX));
        self.blocks.inc();
        // Counted per status first: one labelled update per status, not
        // per transaction, on the chain thread.
        let mut counts: Vec<(StatusCode, u64)> = Vec::new();
        for (_, record) in &changes.transactions {
            let code = record.status.status_code;
            match counts.iter_mut().find(|(counted, _)| *counted == code) {
                Some((_, count)) => *count += 1,
                None => counts.push((code, 1)),
            }
        }
        for (code, count) in counts {
            self.transactions
                .get_or_create(&StatusLabel {
                    status: code.name(),
                })
                .inc_by(count);
        }
        self.commit_seconds.observe(commit.as_secs_f64());
        let counted = self.bytes_written.get();
        self.bytes_written
            .inc_by(bytes_written.saturating_sub(counted));
    }

    /// A block was built (its transactions chosen and executed) in `took`,
    /// `cpu` of it the building thread's own CPU time, where known.
    pub fn built(&self, took: Duration, cpu: Option<Duration>) {
        self.build_seconds.observe(took.as_secs_f64());
        if let Some(cpu) = cpu {
            self.build_cpu_seconds.inc_by(cpu.as_secs_f64());
        }
    }

    /// Sets the chain height alone (at start, before any block).
    pub fn set_height(&self, depth: u64) {
        self.height.set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Takes the mempool's size.
    pub fn mempool(&self, mempool: &Mempool) {
        self.mempool_transactions
            .set(i64::try_from(mempool.len()).unwrap_or(i64::MAX));
        self.mempool_bytes
            .set(i64::try_from(mempool.bytes()).unwrap_or(i64::MAX));
    }
}
