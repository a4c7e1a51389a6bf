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
    /// Storing a block failed (a full disk, an I/O error), so the service
    /// produces and accepts nothing more; reads still work.
    #[error("the node stopped accepting transactions: storing a block failed: {0}")]
    Halted(Arc<CoreError>),
    /// The chain has no decided state to snapshot: it runs alone, or no
    /// block has been decided yet.
    #[error("this chain has no decided state to snapshot")]
    NoSnapshot,
    /// Taking a snapshot failed.
    #[error("taking a snapshot: {0}")]
    Snapshot(#[source] Box<SnapshotError>),
}
