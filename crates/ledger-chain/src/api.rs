//! What an API server needs from the chain, whoever drives it.

use std::future::Future;
use std::sync::Arc;

use ledger_core::{Admission, Hash, StateRead, VerifiedTransaction, ViewCall, ViewOutcome};
use tokio::sync::broadcast;

use crate::error::ChainError;
use crate::event::BlockEvent;

/// The chain as API servers see it: admit a verified transaction, ask
/// whether one is pending, run a view call, follow stored blocks, read
/// state. [`crate::ChainHandle`] implements it on the single-writer
/// service; a consensus engine can implement it on its own loop.
pub trait Chain: Clone + Send + Sync + 'static {
    /// The state readers see: the stored chain.
    type State: StateRead + Send + Sync + 'static;

    /// The stored state, for reads that need no writer.
    fn state(&self) -> &Self::State;

    /// Runs the stateful admission checks and admits `tx` if they pass.
    fn admit(
        &self,
        tx: VerifiedTransaction,
    ) -> impl Future<Output = Result<Admission, ChainError>> + Send;

    /// Whether `hash` is pending.
    fn is_pending(&self, hash: Hash) -> impl Future<Output = Result<bool, ChainError>> + Send;

    /// Runs a view call against the newest state.
    fn view_call(
        &self,
        call: ViewCall,
    ) -> impl Future<Output = Result<ViewOutcome, ChainError>> + Send;

    /// Every stored block from now on, in order, after its commit.
    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockEvent>>;
}
