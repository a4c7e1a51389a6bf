//! What an API server needs from the chain, whoever drives it.

use std::future::Future;
use std::sync::Arc;

use ledger_core::{
    Address, Admission, FeeEstimate, FeeRequest, Hash, StateRead, VerifiedTransaction, ViewCall,
    ViewOutcome,
};
use tokio::sync::broadcast;

use crate::error::ChainError;
use crate::event::BlockEvent;
use crate::metrics::ChainMetrics;

/// How a node takes part in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeMode {
    /// Alone: it produces every block.
    Single,
    /// One validator of a network: it votes on blocks.
    Validator,
    /// It follows a network's decided blocks without voting.
    Follower,
}

impl NodeMode {
    /// Its name on the wire: `single`, `validator` or `follower`.
    pub fn name(self) -> &'static str {
        match self {
            NodeMode::Single => "single",
            NodeMode::Validator => "validator",
            NodeMode::Follower => "follower",
        }
    }
}

/// Another node this one talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The peer's identity in the network.
    pub id: String,
    /// Where it is reached: `HOST:PORT`.
    pub address: String,
    /// The validator it runs, if it is one.
    pub validator: Option<Address>,
    /// The newest block it announced.
    pub height: u64,
    /// Whether it answers now.
    pub reachable: bool,
}

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

    /// Admits `tx` relayed by another validator, which already forwarded
    /// it to every validator: as [`Chain::admit`], but never forwarded on.
    fn relay(
        &self,
        tx: VerifiedTransaction,
    ) -> impl Future<Output = Result<Admission, ChainError>> + Send {
        self.admit(tx)
    }

    /// Whether `hash` is pending.
    fn is_pending(&self, hash: Hash) -> impl Future<Output = Result<bool, ChainError>> + Send;

    /// Runs a view call against the newest state.
    fn view_call(
        &self,
        call: ViewCall,
    ) -> impl Future<Output = Result<ViewOutcome, ChainError>> + Send;

    /// What a transaction would cost as the first of the next block
    /// ([`ledger_core::estimate_fee`]), on the newest state.
    fn estimate_fee(
        &self,
        request: FeeRequest,
    ) -> impl Future<Output = Result<FeeEstimate, ChainError>> + Send;

    /// Every stored block from now on, in order, after its commit.
    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockEvent>>;

    /// How this node takes part in the chain: alone, unless the chain is
    /// driven by a network.
    fn mode(&self) -> NodeMode {
        NodeMode::Single
    }

    /// The nodes this one is connected to: none for a node alone.
    fn peers(&self) -> Vec<Peer> {
        Vec::new()
    }

    /// What the chain counts.
    fn metrics(&self) -> &ChainMetrics;

    /// The decided chain at its top, with the state after it, taken
    /// between two blocks ([`ledger_core::Snapshot`]). Only a chain driven
    /// by a network has decisions: alone, [`ChainError::NoSnapshot`].
    fn snapshot(&self) -> impl Future<Output = Result<ledger_core::Snapshot, ChainError>> + Send {
        async { Err(ChainError::NoSnapshot) }
    }
}
