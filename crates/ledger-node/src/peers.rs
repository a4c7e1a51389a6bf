//! A validator's view of the other validators, through their likelib
//! APIs: every transaction a client pushes here is relayed to each of
//! them (`relay_transactions`, in batches of what waits; so whoever
//! proposes next has it), and each is asked how far its chain got, for
//! the `peers` call.
//!
//! [`NetworkChain`] wraps the chain the API serves: everything passes
//! through, but a fresh admission is also handed to every peer's
//! forwarder, and `peers` answers from what the forwarders last heard.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ledger_chain::{BlockEvent, Chain, ChainError, ChainMetrics, NodeMode, Peer};
use ledger_core::{
    Address, Admission, FeeEstimate, FeeRequest, Hash, RawTransaction, VerifiedTransaction,
    ViewCall, ViewOutcome,
};
use ledger_ws::protocol::MAX_RELAY;
use ledger_ws::Client;
use tokio::sync::{broadcast, mpsc};
use tokio::time::MissedTickBehavior;

/// Transactions waiting to be forwarded to one peer; past it a forward is
/// dropped (the transaction still reaches that peer inside a proposal).
const FORWARD_QUEUE: usize = 10_000;

/// How often a peer is asked for its top block, and how long after a
/// failed connection it is dialled again.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// What the node knows of another validator from the validators file.
pub(crate) struct PeerConfig {
    /// Its validator address (40 hex digits): its id in `peers`.
    pub(crate) id: String,
    /// Its p2p address.
    pub(crate) p2p: String,
    /// Its validator address, shown as the ledger shows addresses.
    pub(crate) validator: Address,
    /// Its WebSocket API, if the file names one.
    pub(crate) api: Option<String>,
}

/// One other validator.
struct PeerSlot {
    /// What `peers` reports; `height` and `reachable` kept current by its
    /// forwarder.
    peer: Arc<Mutex<Peer>>,
    /// To its forwarder; `None` without an API to forward to.
    forward: Option<mpsc::Sender<RawTransaction>>,
}

/// The chain the API serves on a validator.
#[derive(Clone)]
pub(crate) struct NetworkChain<C> {
    inner: C,
    peers: Arc<[PeerSlot]>,
    mode: NodeMode,
}

impl<C: Chain> NetworkChain<C> {
    /// `inner` on a node taking part as `mode`, with a forwarder task per
    /// peer that has an API. The tasks end when the last clone of this
    /// chain is dropped.
    pub(crate) fn new(inner: C, peers: Vec<PeerConfig>, mode: NodeMode) -> NetworkChain<C> {
        let slots: Vec<PeerSlot> = peers
            .into_iter()
            .map(|config| {
                let peer = Arc::new(Mutex::new(Peer {
                    id: config.id,
                    address: config.p2p,
                    validator: Some(config.validator),
                    height: 0,
                    reachable: false,
                }));
                let forward = config.api.map(|api| {
                    let (forward, queue) = mpsc::channel(FORWARD_QUEUE);
                    tokio::spawn(follow(api, peer.clone(), queue));
                    forward
                });
                PeerSlot { peer, forward }
            })
            .collect();
        NetworkChain {
            inner,
            peers: slots.into(),
            mode,
        }
    }
}

/// Forwards `queue` to the peer at `api` and polls its top block into
/// `peer`, reconnecting after failures, until `queue` is closed.
async fn follow(api: String, peer: Arc<Mutex<Peer>>, mut queue: mpsc::Receiver<RawTransaction>) {
    let set = |height: Option<u64>| {
        let mut peer = peer.lock().unwrap_or_else(PoisonError::into_inner);
        peer.reachable = height.is_some();
        if let Some(height) = height {
            peer.height = height;
        }
    };
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while !queue.is_closed() {
        let client = match Client::connect(&api).await {
            Ok(client) => client,
            Err(error) => {
                tracing::debug!(%api, %error, "peer API unreachable");
                set(None);
                poll.tick().await;
                continue;
            }
        };
        loop {
            tokio::select! {
                raw = queue.recv() => match raw {
                    None => return,
                    // What else waits goes in the same call: one message
                    // and one answer for up to MAX_RELAY transactions.
                    Some(raw) => {
                        let mut batch = vec![raw];
                        while batch.len() < MAX_RELAY {
                            match queue.try_recv() {
                                Ok(raw) => batch.push(raw),
                                Err(_) => break,
                            }
                        }
                        if client.relay_transactions(&batch).await.is_err() {
                            break;
                        }
                    }
                },
                _ = poll.tick() => match client.last_block_info().await {
                    Ok(info) => set(Some(info.top_block_number)),
                    Err(_) => break,
                },
            }
        }
        tracing::debug!(%api, "lost the peer API; dialling again");
        set(None);
    }
}

impl<C: Chain> Chain for NetworkChain<C> {
    type State = C::State;

    fn state(&self) -> &C::State {
        self.inner.state()
    }

    async fn admit(&self, tx: VerifiedTransaction) -> Result<Admission, ChainError> {
        let admission = self.inner.admit(tx.clone()).await?;
        // A client's push, admitted here first, goes to every other
        // validator once; they admit it as relayed, without forwarding on.
        if admission == Admission::Admitted {
            let raw = tx.sealed().to_raw();
            for forward in self.peers.iter().filter_map(|slot| slot.forward.as_ref()) {
                if forward.try_send(raw.clone()).is_err() {
                    tracing::debug!(
                        "a peer's forward queue is full; it will see the transaction in a proposal"
                    );
                }
            }
        }
        Ok(admission)
    }

    /// Relayed by another validator, which forwarded it to every
    /// validator already: admitted, never forwarded on.
    async fn relay(&self, tx: VerifiedTransaction) -> Result<Admission, ChainError> {
        self.inner.admit(tx).await
    }

    async fn is_pending(&self, hash: Hash) -> Result<bool, ChainError> {
        self.inner.is_pending(hash).await
    }

    async fn view_call(&self, call: ViewCall) -> Result<ViewOutcome, ChainError> {
        self.inner.view_call(call).await
    }

    async fn estimate_fee(&self, request: FeeRequest) -> Result<FeeEstimate, ChainError> {
        self.inner.estimate_fee(request).await
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockEvent>> {
        self.inner.subscribe()
    }

    async fn snapshot(&self) -> Result<ledger_core::Snapshot, ChainError> {
        self.inner.snapshot().await
    }

    fn mode(&self) -> NodeMode {
        self.mode
    }

    fn peers(&self) -> Vec<Peer> {
        self.peers
            .iter()
            .map(|slot| {
                slot.peer
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect()
    }

    fn metrics(&self) -> &ChainMetrics {
        self.inner.metrics()
    }
}
