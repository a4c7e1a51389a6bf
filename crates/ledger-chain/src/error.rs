//! The errors of the chain service.

use ledger_core::CoreError;

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
}
