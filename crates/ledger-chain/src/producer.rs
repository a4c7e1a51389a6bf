//! The block production policy, as a state machine of requests and time.
//!
//! [`Producer`] has no thread: the service feeds it requests, and it reads
//! the injected [`Clock`] to decide when a block is due, to stamp blocks
//! and to time their commits. Tests drive it on a [`crate::ManualClock`]
//! and see exactly what a node would do.

use std::sync::Arc;
use std::time::Duration;

use ledger_core::{
    Address, Admission, Block, BlockChanges, ChainTip, ContractEngine, CoreError, FeeEstimate,
    FeeRequest, Hash, Ledger, StateCommit, VerifiedTransaction, ViewCall, ViewOutcome,
};
use tokio::sync::{broadcast, watch};

use crate::clock::Clock;
use crate::event::BlockEvent;
use crate::metrics::ChainMetrics;

/// How blocks are produced. Start from [`ProducerConfig::new`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// Credited with rewards and fees.
    pub coinbase: Address,
    /// While transactions are pending, blocks start at most this far
    /// apart (at once when the chain was idle, and when a block's worth,
    /// the ledger's `max_block_transactions`, is pending); a transaction
    /// waits at most this long plus the time to execute and commit one
    /// block.
    pub block_interval: Duration,
    /// How many block events a subscriber may fall behind before it is
    /// told it lagged (and a connection closes as too slow).
    pub event_backlog: usize,
    /// Blocks come from a consensus engine: the producer never starts one
    /// itself; it builds, checks and commits blocks when asked
    /// ([`Producer::build`], [`Producer::check`], [`Producer::commit_decided`]).
    pub driven: bool,
    /// The nice value the service's two threads (the chain thread and the
    /// one that stores blocks: the stages every block passes through one
    /// at a time) ask for as they start; `None` leaves them at the one
    /// they were started with. A lower value than the connection threads'
    /// keeps a block from waiting for a core behind work that can wait;
    /// below the starting value the kernel may refuse, and they run as
    /// before ([`ChainService::spawn`](crate::ChainService::spawn) logs it).
    pub thread_nice: Option<i32>,
}

impl ProducerConfig {
    /// Blocks for `coinbase`, at most 200 ms apart.
    pub fn new(coinbase: Address) -> ProducerConfig {
        ProducerConfig {
            coinbase,
            block_interval: Duration::from_millis(200),
            event_backlog: 1024,
            driven: false,
            thread_nice: None,
        }
    }
}

/// The ledger and the production policy around it.
pub struct Producer<S, E, C> {
    ledger: Ledger<S, E>,
    config: ProducerConfig,
    events: broadcast::Sender<Arc<BlockEvent>>,
    clock: C,
    metrics: ChainMetrics,
    /// When the last produced block started, on the clock's monotonic
    /// time; `None` until the first.
    last_block: Option<Duration>,
    /// The mempool's length, for [`Producer::pending`].
    pending: watch::Sender<usize>,
}

impl<S: StateCommit, E: ContractEngine, C: Clock> Producer<S, E, C> {
    /// A producer of blocks on `ledger` on `clock`'s time, announcing them
    /// on `events`.
    pub fn new(
        ledger: Ledger<S, E>,
        config: ProducerConfig,
        events: broadcast::Sender<Arc<BlockEvent>>,
        clock: C,
    ) -> Self {
        let metrics = ChainMetrics::default();
        if let Ok(tip) = ledger.tip() {
            metrics.set_height(tip.depth);
        }
        Producer {
            ledger,
            config,
            events,
            clock,
            metrics,
            last_block: None,
            pending: watch::Sender::new(0),
        }
    }

    /// The clock it runs on.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// What it counts.
    pub fn metrics(&self) -> &ChainMetrics {
        &self.metrics
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger<S, E> {
        &self.ledger
    }

    /// Runs the stateful admission checks and admits `tx` if they pass.
    pub fn admit(&mut self, tx: VerifiedTransaction) -> Result<Admission, CoreError> {
        let admission = self.ledger.admit(tx)?;
        self.mempool_changed();
        Ok(admission)
    }

    /// How many transactions are pending, as it changes: what a proposer
    /// waits on.
    pub fn pending(&self) -> watch::Receiver<usize> {
        self.pending.subscribe()
    }

    fn mempool_changed(&self) {
        self.metrics.mempool(self.ledger.mempool());
        self.pending.send_replace(self.ledger.mempool().len());
    }

    /// Whether `hash` is pending.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        self.ledger.mempool().contains(hash)
    }

    /// Runs a view call against the newest state.
    pub fn view_call(&mut self, call: &ViewCall) -> Result<ViewOutcome, CoreError> {
        self.ledger.view_call(call)
    }

    /// Estimates a transaction's fee against the newest state.
    pub fn estimate_fee(&mut self, request: &FeeRequest) -> Result<FeeEstimate, CoreError> {
        self.ledger.estimate_fee(request)
    }

    /// Validates, executes, commits and announces a block produced
    /// elsewhere, exactly as a produced one is announced; what it applied
    /// leaves the mempool.
    pub fn import(&mut self, block: Block) -> Result<ChainTip, CoreError> {
        let changes = self.ledger.check_block(block)?;
        let changes = self.commit(changes)?;
        self.announce(&changes, "block imported")?;
        Ok(changes.tip())
    }

    /// When the next block is due on the clock's monotonic time: `None`
    /// while nothing is pending; at once when the chain was idle or a
    /// block's worth is pending; else the interval after the last block
    /// started.
    pub fn deadline(&self) -> Option<Duration> {
        if self.config.driven || self.ledger.mempool().is_empty() {
            return None;
        }
        if self.ledger.mempool().len() >= self.ledger.config().max_block_transactions {
            return Some(Duration::ZERO);
        }
        Some(
            self.last_block
                .map_or(Duration::ZERO, |last| last + self.config.block_interval),
        )
    }

    /// Produces, stores and announces a block if one is due now; `true`
    /// if it did.
    pub fn poll(&mut self) -> Result<bool, CoreError> {
        match self.start_due()? {
            Some(changes) => self.store_now(changes).map(|()| true),
            None => Ok(false),
        }
    }

    /// Turns everything pending into blocks, so every transaction answered
    /// Pending reaches a final status.
    /// A producer driven by consensus turns nothing into blocks alone: what
    /// is pending stays for the network to decide.
    pub fn drain(&mut self) -> Result<(), CoreError> {
        if self.config.driven {
            return Ok(());
        }
        while self.produce()? {}
        Ok(())
    }

    /// Builds and executes the next block from what is pending, stamped
    /// with the clock's time, without committing it: a proposal. `None`
    /// when nothing is pending.
    pub fn build(&mut self, coinbase: Address) -> Result<Option<BlockChanges>, CoreError> {
        let time = self.clock.unix_seconds();
        let started = self.started();
        let changes = self.ledger.build_block(time, coinbase)?;
        self.built(started);
        Ok(changes)
    }

    /// Validates and executes a block from elsewhere on the current tip,
    /// without committing it: what a validator does before voting.
    pub fn check(&mut self, block: Block) -> Result<BlockChanges, CoreError> {
        self.ledger.check_block(block)
    }

    /// Commits and announces changes from [`Producer::build`] or
    /// [`Producer::check`] that a network decided (with its decision in
    /// them); what they applied leaves the mempool.
    pub fn commit_decided(&mut self, changes: BlockChanges) -> Result<ChainTip, CoreError> {
        let changes = self.commit(changes)?;
        self.announce(&changes, "decided block stored")?;
        Ok(changes.tip())
    }

    /// Produces, stores and announces a block; `false` if nothing was pending.
    fn produce(&mut self) -> Result<bool, CoreError> {
        match self.build_next()? {
            Some(changes) => self.store_now(changes).map(|()| true),
            None => Ok(false),
        }
    }

    /// Stores a built block on this thread and announces it.
    fn store_now(&mut self, mut changes: BlockChanges) -> Result<(), CoreError> {
        let started = self.clock.elapsed();
        self.ledger.store().commit(&changes)?;
        let took = self.clock.elapsed().saturating_sub(started);
        self.stored(&mut changes, took)
    }

    /// The next block if one is due now, built, executed and ready to be
    /// stored, but not stored: [`Producer::poll`]'s first half, for a
    /// service that stores blocks on another thread and admits meanwhile.
    /// Until [`Producer::stored`], its transactions stay pending (what
    /// they spend counts against the state before the block), and no
    /// other block may be built.
    pub fn start_due(&mut self) -> Result<Option<BlockChanges>, CoreError> {
        let now = self.clock.elapsed();
        match self.deadline() {
            Some(due) if now >= due => {
                // The interval runs from the start of a block: under load,
                // when a block takes longer than the interval, the next
                // starts at once, so no transaction waits longer than
                // interval + one block.
                self.last_block = Some(now);
                self.build_next()
            }
            _ => Ok(None),
        }
    }

    /// Once the store committed `changes` from [`Producer::start_due`] (in
    /// `took`): their transactions leave the mempool, and every
    /// subscriber is told.
    pub fn stored(&mut self, changes: &mut BlockChanges, took: Duration) -> Result<(), CoreError> {
        self.ledger.committed(changes);
        let written = self.ledger.store().bytes_written();
        self.metrics.stored(changes, took, written);
        self.announce(changes, "block stored")
    }

    /// Builds the next block from what is pending, ready to be stored.
    fn build_next(&mut self) -> Result<Option<BlockChanges>, CoreError> {
        let time = self.clock.unix_seconds();
        let started = self.started();
        let Some(mut changes) = self.ledger.build_block(time, self.config.coinbase)? else {
            return Ok(None);
        };
        self.built(started);
        self.ledger.prepare_commit(&mut changes);
        Ok(Some(changes))
    }

    /// The clock's time and this thread's CPU time, before building.
    fn started(&self) -> (Duration, Option<Duration>) {
        (self.clock.elapsed(), self.clock.thread_cpu())
    }

    /// Counts a block built since `started`.
    fn built(&self, (wall, cpu): (Duration, Option<Duration>)) {
        let used = self
            .clock
            .thread_cpu()
            .zip(cpu)
            .map(|(now, before)| now.saturating_sub(before));
        self.metrics
            .built(self.clock.elapsed().saturating_sub(wall), used);
    }

    /// Commits a block's changes, timing the commit.
    fn commit(&mut self, mut changes: BlockChanges) -> Result<BlockChanges, CoreError> {
        let started = self.clock.elapsed();
        self.ledger.commit_block(&mut changes)?;
        let took = self.clock.elapsed().saturating_sub(started);
        let written = self.ledger.store().bytes_written();
        self.metrics.stored(&changes, took, written);
        Ok(changes)
    }

    /// Re-checks what the block left pending, then tells every subscriber.
    fn announce(&mut self, changes: &BlockChanges, what: &'static str) -> Result<(), CoreError> {
        let dropped = self.ledger.recheck_pending(changes)?;
        tracing::info!(
            depth = changes.block.depth,
            hash = %changes.block.hash(),
            transactions = changes.block.transactions.len(),
            "{what}"
        );
        if !dropped.is_empty() {
            tracing::info!(
                count = dropped.len(),
                "pending transactions dropped, no longer covered"
            );
        }
        // Nobody listening is fine.
        self.mempool_changed();
        let stored_at = self.clock.unix_nanos();
        let _ = self
            .events
            .send(Arc::new(BlockEvent::of(changes, dropped, stored_at)));
        Ok(())
    }
}
