//! The errors of the chain service.

use std::sync::Arc;

use ledger_core::{CoreError, SnapshotError};

/// What a request to the chain can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The core refused or failed (full mempool, invalid block, storage).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The service has stopped or is stopping: the node is shutting down.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// The store failed under the service (a full disk, an I/O error), so
    /// it produces and accepts nothing more; reads still work.
    #[error("the node stopped accepting transactions: {0}")]
    Halted(Arc<Halt>),
    /// The chain has no decided state to snapshot: it runs alone, or no
    /// block has been decided yet.
    #[error("this chain has no decided state to snapshot")]
    NoSnapshot,
    /// Taking a snapshot failed.
    #[error("taking a snapshot: {0}")]
    Snapshot(#[source] Box<SnapshotError>),
}

/// Why the chain service halted: its store failed, and a writer that
/// cannot trust its store must not go on writing to it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Halt {
    /// Storing a block failed: the write, or the checks and reads that
    /// come with it.
    #[error("storing a block failed: {0}")]
    Storing(CoreError),
    /// A read the service needed to admit a transaction or to build a
    /// block failed. With sled this is how a failed write shows when its
    /// own background writer met it first: every later use of the log
    /// answers that failure.
    #[error("reading the store failed: {0}")]
    Reading(CoreError),
}

impl Halt {
    /// The store's failure.
    pub fn failure(&self) -> &CoreError {
        match self {
            Halt::Storing(failure) | Halt::Reading(failure) => failure,
        }
    }
}
