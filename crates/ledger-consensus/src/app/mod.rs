//! The application side of Malachite: what a validator does when
//! consensus asks it for a value, hands it a proposal's parts, decides,
//! or needs decided blocks for a peer that fell behind.
//!
//! The chain service ([`ChainHandle`], driven) does the ledger's work:
//! build a block from the mempool, execute a block on the tip, commit a
//! decided one. This loop keeps what consensus needs between messages:
//! the commitment to the state at the tip, the executed candidates for
//! the next height, and the streams of parts being reassembled.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use ledger_chain::{Chain, ChainError, ChainHandle};
use ledger_core::{
    execute_genesis, history_commitment, state_commitment, Address, BlockChanges, Decision,
    Genesis, Hash, MemoryStore, StateLattice, StateRead,
};
use malachitebft_app_channel::app::engine::host::Next;
use malachitebft_app_channel::app::engine::host::SyncedValueOutcome;
use malachitebft_app_channel::app::streaming::StreamId;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, HeightParams, LinearTimeouts, Round, Value as _,
};
use malachitebft_app_channel::app::types::{LocallyProposedValue, PeerId, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels};
use tokio::sync::{mpsc, oneshot};

use crate::codec::LedgerCodec;
use crate::context::{Height, LedgerContext, LedgerValue, ValueId};
use crate::signing::ValidatorKey;
use crate::ValidatorSet;

mod blocks;
mod parts;

pub use blocks::MAX_DECIDED_VALUES;
pub use parts::PART_BYTES;
use parts::{Assembled, Stream};

/// The longest a validator holds the start of a height while nothing is
/// pending (see [`App::start_when_pending`]).
pub const IDLE_START: Duration = Duration::from_secs(2);

/// What a validator runs with besides its chain and key.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// Credited with the rewards and fees of the blocks it proposes.
    pub coinbase: Address,
    /// Consensus timeouts.
    pub timeouts: LinearTimeouts,
}

/// Why the loop stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The chain service failed or stopped.
    #[error("the chain service: {0}")]
    Chain(#[from] ChainError),
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Store(#[from] ledger_core::CoreError),
    /// The store holds a block a network did not decide (a chain started
    /// alone cannot continue as a network).
    #[error(
        "block {depth} has no network decision stored: this chain was not made by this network"
    )]
    Undecided {
        /// The block.
        depth: u64,
    },
    /// The network layer went away.
    #[error("the consensus network stopped")]
    NetworkClosed,
    /// A commit certificate could not be encoded for the store.
    #[error("encoding the commit certificate of block {depth}: {source}")]
    Certificate {
        /// The block.
        depth: u64,
        /// Why.
        source: Box<crate::CodecError>,
    },
}

/// A candidate for the next height, executed on the tip.
struct Candidate {
    changes: BlockChanges,
    after: Tip,
}

/// A block's depth and what the state after it commits to.
#[derive(Clone)]
struct Tip {
    depth: u64,
    history: Hash,
    lattice: StateLattice,
    /// [`state_commitment`] of the two above: what validators vote on.
    state: Hash,
}

impl Tip {
    fn new(depth: u64, history: Hash, lattice: StateLattice) -> Tip {
        let state = state_commitment(&history, &lattice);
        Tip {
            depth,
            history,
            lattice,
            state,
        }
    }

    /// The tip after `changes`, whose records before are read from
    /// `before` (the store at this tip).
    fn after<S: StateRead + ?Sized>(
        &self,
        before: &S,
        changes: &BlockChanges,
    ) -> Result<Tip, AppError> {
        let mut lattice = self.lattice.clone();
        lattice.apply(before, changes)?;
        Ok(Tip::new(
            changes.block.depth,
            history_commitment(&self.history, changes),
            lattice,
        ))
    }
}

/// The loop's state.
pub struct App<S> {
    chain: ChainHandle<S>,
    key: ValidatorKey,
    validators: ValidatorSet,
    config: AppConfig,
    /// The committed tip and the commitment to its state.
    tip: Tip,
    candidates: HashMap<ValueId, Candidate>,
    proposed: BTreeMap<Height, Vec<ProposedValue<LedgerContext>>>,
    built: HashMap<(Height, Round), LedgerValue>,
    streams: HashMap<(PeerId, StreamId), Stream>,
    waiting: BTreeMap<Height, Vec<Assembled>>,
    stream_nonce: u64,
    /// The highest height a value arrived for through sync: peers hold
    /// at least that far, so this validator is catching up.
    synced: Height,
}

/// A proposal this validator may now build: transactions arrived, or the
/// wait ran out.
struct ReadyToPropose {
    height: Height,
    round: Round,
    reply: oneshot::Sender<LocallyProposedValue<LedgerContext>>,
}

impl<S> App<S>
where
    S: StateRead + Clone + Send + Sync + 'static,
{
    /// The loop for `chain` (a service started with
    /// `ProducerConfig::driven`), whose genesis is `genesis`.
    pub fn new(
        chain: ChainHandle<S>,
        genesis: &Genesis,
        key: ValidatorKey,
        validators: ValidatorSet,
        config: AppConfig,
    ) -> Result<App<S>, AppError> {
        let tip = tip_commitment(chain.state(), genesis)?;
        Ok(App {
            chain,
            key,
            validators,
            config,
            tip,
            candidates: HashMap::new(),
            proposed: BTreeMap::new(),
            built: HashMap::new(),
            streams: HashMap::new(),
            waiting: BTreeMap::new(),
            stream_nonce: 0,
            synced: Height(0),
        })
    }

    fn params(&self) -> HeightParams<LedgerContext> {
        HeightParams::new(self.validators.clone(), self.config.timeouts, None)
    }

    fn next_height(&self) -> Height {
        Height(self.tip.depth + 1)
    }

    /// Runs until consensus or the chain stops.
    pub async fn run(mut self, mut channels: Channels<LedgerContext>) -> Result<(), AppError> {
        let (ready_sender, mut ready) = mpsc::channel::<ReadyToPropose>(16);
        loop {
            tokio::select! {
                message = channels.consensus.recv() => match message {
                    Some(message) => self.handle(message, &channels, &ready_sender).await?,
                    None => return Err(AppError::NetworkClosed),
                },
                Some(proposal) = ready.recv() => self.propose(proposal, &channels).await?,
            }
        }
    }

    async fn handle(
        &mut self,
        message: AppMsg<LedgerContext>,
        channels: &Channels<LedgerContext>,
        ready: &mpsc::Sender<ReadyToPropose>,
    ) -> Result<(), AppError> {
        match message {
            AppMsg::ConsensusReady { reply } => {
                tracing::info!(height = %self.next_height(), "consensus ready");
                self.start_when_pending(reply, (self.next_height(), self.params()));
            }
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                tracing::debug!(%height, %round, %proposer, ?role, "round started");
                for assembled in self.waiting.remove(&height).unwrap_or_default() {
                    self.receive(assembled).await?;
                }
                let known = self
                    .proposed
                    .get(&height)
                    .map(|values| {
                        values
                            .iter()
                            .filter(|value| value.round == round)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                let _ = reply_value.send(known);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                if let Some(value) = self.built.get(&(height, round)).copied() {
                    let _ = reply.send(LocallyProposedValue::new(height, round, value));
                    self.stream(height, round, Round::Nil, &value, channels)
                        .await?;
                    return Ok(());
                }
                // Empty blocks are never made: wait for a transaction, at
                // most 90% of the propose timeout, off this loop.
                let mut pending = self.chain.pending();
                let ready = ready.clone();
                let wait = timeout.mul_f32(0.9);
                tokio::spawn(async move {
                    let arrived = tokio::time::timeout(wait, async {
                        pending.wait_for(|count| *count > 0).await.is_ok()
                    })
                    .await;
                    if arrived == Ok(true) {
                        let _ = ready
                            .send(ReadyToPropose {
                                height,
                                round,
                                reply,
                            })
                            .await;
                    }
                });
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { reply, .. } => {
                let _ = reply.send(Vec::new());
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                if address == self.key.address() {
                    if let Some(candidate) = self.candidates.get(&value_id) {
                        let value =
                            LedgerValue::new(candidate.changes.block.hash(), candidate.after.state);
                        self.stream(height, round, valid_round, &value, channels)
                            .await?;
                    }
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let answer = match self.part(published_by.unwrap_or(from), part) {
                    Some(assembled) if assembled.height == self.next_height() => {
                        self.receive(assembled).await?
                    }
                    Some(assembled) if assembled.height > self.next_height() => {
                        self.waiting
                            .entry(assembled.height)
                            .or_default()
                            .push(assembled);
                        None
                    }
                    _ => None,
                };
                let _ = reply.send(answer);
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                self.decided(certificate).await?;
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate, reply, ..
            } => {
                if self.tip.depth >= certificate.height.0 {
                    let next = Next::Start(self.next_height(), self.params());
                    if self.synced >= certificate.height {
                        // Decided through sync: the peers are ahead, and the
                        // next height's value is fetched once it starts.
                        let _ = reply.send(next);
                    } else {
                        self.start_when_pending(reply, next);
                    }
                } else {
                    tracing::error!(height = %certificate.height, "decided block not committed; restarting the height");
                    let _ = reply.send(Next::Restart(certificate.height, self.params()));
                }
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(*range.start(), *range.end())?);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                self.synced = self.synced.max(height);
                let outcome = if height != self.next_height() {
                    SyncedValueOutcome::LocalTransientError
                } else {
                    match self
                        .execute(height, round, Round::Nil, proposer, &value_bytes)
                        .await?
                    {
                        Some(value) => SyncedValueOutcome::Verdict(value),
                        None => SyncedValueOutcome::PeerFault,
                    }
                };
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    /// Starts the next height (sends `message` on `reply`) once a
    /// transaction waits, or after [`IDLE_START`] at the latest. Blocks are
    /// never empty, so a height started with nothing to propose only spins
    /// rounds, each longer than the last; held, every validator starts the
    /// height when the first transaction reaches it (forwarding brings it
    /// to all within milliseconds), and round 0 decides it. The bound lets
    /// a validator that missed a forward join its peers anyway.
    fn start_when_pending<T: Send + 'static>(&self, reply: oneshot::Sender<T>, message: T) {
        let mut pending = self.chain.pending();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(IDLE_START, async {
                pending.wait_for(|count| *count > 0).await.is_ok()
            })
            .await;
            let _ = reply.send(message);
        });
    }

    /// Builds this validator's proposal now that transactions wait.
    async fn propose(
        &mut self,
        ReadyToPropose {
            height,
            round,
            reply,
        }: ReadyToPropose,
        channels: &Channels<LedgerContext>,
    ) -> Result<(), AppError> {
        if height != self.next_height() {
            return Ok(());
        }
        let Some(changes) = self.chain.build_block(self.config.coinbase).await? else {
            return Ok(());
        };
        let after = self.tip.after(self.chain.state(), &changes)?;
        let value = LedgerValue::new(changes.block.hash(), after.state);
        tracing::info!(%height, %round, transactions = changes.block.transactions.len(), "proposing");
        self.candidates
            .insert(value.id(), Candidate { changes, after });
        self.built.insert((height, round), value);
        let _ = reply.send(LocallyProposedValue::new(height, round, value));
        self.stream(height, round, Round::Nil, &value, channels)
            .await
    }

    /// Commits a decided block with its certificate.
    async fn decided(
        &mut self,
        certificate: CommitCertificate<LedgerContext>,
    ) -> Result<(), AppError> {
        let height = certificate.height;
        if height.0 <= self.tip.depth {
            return Ok(());
        }
        let Some(Candidate { mut changes, after }) = self.candidates.remove(&certificate.value_id)
        else {
            tracing::error!(%height, value = %certificate.value_id, "decided a value this validator never executed");
            return Ok(());
        };
        let encoded = Codec::<CommitCertificate<LedgerContext>>::encode(&LedgerCodec, &certificate)
            .map_err(|source| AppError::Certificate {
                depth: height.0,
                source: Box::new(source),
            })?;
        changes.decision = Some(Decision {
            state: after.state,
            history: after.history,
            lattice: after.lattice.clone(),
            certificate: encoded.to_vec(),
        });
        let transactions = changes.block.transactions.len();
        let tip = self.chain.commit_decided(changes).await?;
        tracing::info!(%height, round = %certificate.round, transactions, hash = %tip.hash, "decided");
        self.tip = after;
        self.candidates.clear();
        self.built.retain(|(h, _), _| h.0 > tip.depth);
        self.proposed = self.proposed.split_off(&Height(tip.depth + 1));
        self.waiting = self.waiting.split_off(&Height(tip.depth + 1));
        Ok(())
    }
}

/// The tip and the commitment to its state: computed from the genesis at
/// depth 0, else the one stored with the tip's decision.
fn tip_commitment<S: StateRead>(state: &S, genesis: &Genesis) -> Result<Tip, AppError> {
    let depth = state.tip()?.map_or(0, |tip| tip.depth);
    if depth == 0 {
        // Every validator reads the same genesis file, so resolves the same
        // settings (a store holding others is refused when the ledger opens).
        let changes = execute_genesis(genesis.block(), &genesis.settings.resolve())?;
        let mut lattice = StateLattice::new();
        lattice.apply(&MemoryStore::new(), &changes)?;
        return Ok(Tip::new(
            0,
            history_commitment(&Hash::ZERO, &changes),
            lattice,
        ));
    }
    match state.decision(depth)? {
        Some(decision) => Ok(Tip {
            depth,
            history: decision.history,
            lattice: decision.lattice,
            state: decision.state,
        }),
        None => Err(AppError::Undecided { depth }),
    }
}
