//! The block production policy, as a state machine of requests and time.
//!
//! [`Producer`] has no thread and no clock: the service feeds it requests
//! and the clock's readings, and it decides when a block is due. Tests
//! drive it on simulated time and see exactly what a node would do.

use std::sync::Arc;
use std::time::Duration;

use ledger_core::{
    Address, Admission, Block, BlockChanges, ChainTip, ContractEngine, CoreError, Hash, Ledger,
    StateCommit, VerifiedTransaction, ViewCall, ViewOutcome,
};
use tokio::sync::broadcast;

use crate::event::BlockEvent;

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
}

impl ProducerConfig {
    /// Blocks for `coinbase`, at most 200 ms apart.
    pub fn new(coinbase: Address) -> ProducerConfig {
        ProducerConfig {
            coinbase,
            block_interval: Duration::from_millis(200),
            event_backlog: 1024,
        }
    }
}

/// The ledger and the production policy around it.
pub struct Producer<S, E> {
    ledger: Ledger<S, E>,
    config: ProducerConfig,
    events: broadcast::Sender<Arc<BlockEvent>>,
    /// When the last produced block started, on the clock's monotonic
    /// time; `None` until the first.
    last_block: Option<Duration>,
}

impl<S: StateCommit, E: ContractEngine> Producer<S, E> {
    /// A producer of blocks on `ledger`, announcing them on `events`.
    pub fn new(
        ledger: Ledger<S, E>,
        config: ProducerConfig,
        events: broadcast::Sender<Arc<BlockEvent>>,
    ) -> Self {
        Producer {
            ledger,
            config,
            events,
            last_block: None,
        }
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger<S, E> {
        &self.ledger
    }

    /// Runs the stateful admission checks and admits `tx` if they pass.
    pub fn admit(&mut self, tx: VerifiedTransaction) -> Result<Admission, CoreError> {
        self.ledger.admit(tx)
    }

    /// Whether `hash` is pending.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        self.ledger.mempool().contains(hash)
    }

    /// Runs a view call against the newest state.
    pub fn view_call(&mut self, call: &ViewCall) -> Result<ViewOutcome, CoreError> {
        self.ledger.view_call(call)
    }

    /// Validates, executes, commits and announces a block produced
    /// elsewhere, exactly as a produced one is announced; what it applied
    /// leaves the mempool.
    pub fn import(&mut self, block: Block) -> Result<ChainTip, CoreError> {
        let changes = self.ledger.import_block(block)?;
        self.announce(&changes, "block imported")?;
        Ok(changes.tip())
    }

    /// When the next block is due on the clock's monotonic time: `None`
    /// while nothing is pending; at once when the chain was idle or a
    /// block's worth is pending; else the interval after the last block
    /// started.
    pub fn deadline(&self) -> Option<Duration> {
        if self.ledger.mempool().is_empty() {
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

    /// Produces, stores and announces a block if one is due at `now`
    /// (monotonic), stamped `unix_seconds`; `true` if it did.
    pub fn poll(&mut self, now: Duration, unix_seconds: u32) -> Result<bool, CoreError> {
        match self.deadline() {
            Some(due) if now >= due => {
                // The interval runs from the start of a block: under load,
                // when a block takes longer than the interval, the next
                // starts at once, so no transaction waits longer than
                // interval + one block.
                self.last_block = Some(now);
                self.produce(unix_seconds)
            }
            _ => Ok(false),
        }
    }

    /// Turns everything pending into blocks, so every transaction answered
    /// Pending reaches a final status.
    pub fn drain(&mut self, unix_seconds: u32) -> Result<(), CoreError> {
        while self.produce(unix_seconds)? {}
        Ok(())
    }

    /// Produces, stores and announces a block; `false` if nothing was pending.
    fn produce(&mut self, unix_seconds: u32) -> Result<bool, CoreError> {
        let Some(changes) = self
            .ledger
            .produce_block(unix_seconds, self.config.coinbase)?
        else {
            return Ok(false);
        };
        self.announce(&changes, "block stored")?;
        Ok(true)
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
        let _ = self.events.send(Arc::new(BlockEvent::of(changes, dropped)));
        Ok(())
    }
}
