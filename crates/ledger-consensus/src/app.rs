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

use bytes::Bytes;
use ledger_chain::{Chain, ChainError, ChainHandle};
use ledger_core::{
    execute_genesis, state_commitment, Address, BlockChanges, Decision, Genesis, Hash, StateRead,
};
use malachitebft_app_channel::app::engine::host::Next;
use malachitebft_app_channel::app::engine::host::SyncedValueOutcome;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, HeightParams, LinearTimeouts, Round,
    Validator as _, ValidatorSet as _, Validity, Value as _,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, PeerId, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use tokio::sync::{mpsc, oneshot};

use crate::codec::{decode_block_value, encode_block_value, LedgerCodec};
use crate::context::{Height, LedgerContext, LedgerValue, ProposalPart, ValidatorAddress, ValueId};
use crate::signing::{parts_digest, ValidatorKey};
use crate::ValidatorSet;

/// How big one data part of a proposal is.
pub const PART_BYTES: usize = 128 * 1024;

/// The longest a validator holds the start of a height while nothing is
/// pending (see [`App::start_when_pending`]).
pub const IDLE_START: Duration = Duration::from_secs(2);

/// Streams of parts kept at once; past it the oldest is dropped.
const MAX_STREAMS: usize = 256;

/// Bytes one stream may hold before it is dropped as hostile.
const MAX_STREAM_BYTES: usize = 64 << 20;

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
}

/// A candidate for the next height, executed on the tip.
struct Candidate {
    changes: BlockChanges,
    state: Hash,
}

/// A proposal's parts as they arrive.
#[derive(Default)]
struct Stream {
    init: Option<(Height, Round, Round, ValidatorAddress)>,
    chunks: BTreeMap<u64, Bytes>,
    fin: Option<malachitebft_signing_ed25519::Signature>,
    /// The sequence number of the end of the stream.
    end: Option<u64>,
    bytes: usize,
}

/// A complete, signed proposal waiting for its height.
struct Assembled {
    height: Height,
    round: Round,
    pol_round: Round,
    proposer: ValidatorAddress,
    bytes: Bytes,
}

/// The loop's state.
pub struct App<S> {
    chain: ChainHandle<S>,
    key: ValidatorKey,
    validators: ValidatorSet,
    config: AppConfig,
    /// The committed tip: its depth and the commitment to its state.
    tip: (u64, Hash),
    candidates: HashMap<ValueId, Candidate>,
    proposed: BTreeMap<Height, Vec<ProposedValue<LedgerContext>>>,
    built: HashMap<(Height, Round), LedgerValue>,
    streams: HashMap<(PeerId, StreamId), Stream>,
    waiting: BTreeMap<Height, Vec<Assembled>>,
    stream_nonce: u64,
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
        })
    }

    fn params(&self) -> HeightParams<LedgerContext> {
        HeightParams::new(self.validators.clone(), self.config.timeouts, None)
    }

    fn next_height(&self) -> Height {
        Height(self.tip.0 + 1)
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
                // most most of the propose timeout, off this loop.
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
                            LedgerValue::new(candidate.changes.block.hash(), candidate.state);
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
                if self.tip.0 >= certificate.height.0 {
                    self.start_when_pending(reply, Next::Start(self.next_height(), self.params()));
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
        let state = state_commitment(&self.tip.1, &changes);
        let value = LedgerValue::new(changes.block.hash(), state);
        tracing::info!(%height, %round, transactions = changes.block.transactions.len(), "proposing");
        self.candidates
            .insert(value.id(), Candidate { changes, state });
        self.built.insert((height, round), value);
        let _ = reply.send(LocallyProposedValue::new(height, round, value));
        self.stream(height, round, Round::Nil, &value, channels)
            .await
    }

    /// Publishes a candidate of this validator's as parts: an `Init`, the
    /// block value in chunks, a `Fin` signing them, and the stream's end.
    async fn stream(
        &mut self,
        height: Height,
        round: Round,
        pol_round: Round,
        value: &LedgerValue,
        channels: &Channels<LedgerContext>,
    ) -> Result<(), AppError> {
        let Some(candidate) = self.candidates.get(&value.id()) else {
            return Ok(());
        };
        let bytes = encode_block_value(&candidate.changes.block, &candidate.state);
        let chunks: Vec<Bytes> = bytes
            .chunks(PART_BYTES)
            .map(|chunk| bytes.slice_ref(chunk))
            .collect();
        let proposer = self.key.address();
        let digest = parts_digest(height, round, pol_round, &proposer, &chunks);
        let signature = self.key.sign(digest.as_bytes());
        self.stream_nonce += 1;
        let mut id = Vec::with_capacity(24);
        id.extend_from_slice(&height.0.to_be_bytes());
        id.extend_from_slice(&round.as_i64().to_be_bytes());
        id.extend_from_slice(&self.stream_nonce.to_be_bytes());
        let id = StreamId::new(Bytes::from(id));
        let parts = std::iter::once(ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        })
        .chain(chunks.into_iter().map(ProposalPart::Data))
        .chain(std::iter::once(ProposalPart::Fin(signature)))
        .map(StreamContent::Data)
        .chain(std::iter::once(StreamContent::Fin));
        for (sequence, content) in parts.enumerate() {
            let message = StreamMessage::new(id.clone(), sequence as u64, content);
            channels
                .network
                .send(NetworkMsg::PublishProposalPart(message))
                .await
                .map_err(|_| AppError::NetworkClosed)?;
        }
        Ok(())
    }

    /// Adds a part to its stream; the whole proposal once every part is in
    /// and its signature is the proposer's.
    fn part(&mut self, peer: PeerId, message: StreamMessage<ProposalPart>) -> Option<Assembled> {
        let key = (peer, message.stream_id.clone());
        if !self.streams.contains_key(&key) && self.streams.len() >= MAX_STREAMS {
            tracing::warn!(%peer, "too many proposal streams at once; dropping them");
            self.streams.clear();
        }
        let stream = self.streams.entry(key.clone()).or_default();
        match message.content {
            StreamContent::Fin => stream.end = Some(message.sequence),
            StreamContent::Data(ProposalPart::Init {
                height,
                round,
                pol_round,
                proposer,
            }) => stream.init = Some((height, round, pol_round, proposer)),
            StreamContent::Data(ProposalPart::Data(chunk)) => {
                stream.bytes += chunk.len();
                stream.chunks.insert(message.sequence, chunk);
            }
            StreamContent::Data(ProposalPart::Fin(signature)) => stream.fin = Some(signature),
        }
        if stream.bytes > MAX_STREAM_BYTES {
            tracing::warn!(%peer, bytes = stream.bytes, "proposal stream too large; dropped");
            self.streams.remove(&key);
            return None;
        }
        // Complete: Init at 0, the chunks at 1..=n, Fin at n+1, end at n+2.
        let (Some(init), Some(signature), Some(end)) = (stream.init, stream.fin, stream.end) else {
            return None;
        };
        if stream.chunks.len() as u64 + 2 != end {
            return None;
        }
        let stream = self.streams.remove(&key)?;
        let (height, round, pol_round, proposer) = init;
        let chunks: Vec<Bytes> = stream.chunks.into_values().collect();
        let public_key = *mtypes_validator(&self.validators, &proposer)?;
        let digest = parts_digest(height, round, pol_round, &proposer, &chunks);
        if public_key.verify(digest.as_bytes(), &signature).is_err() {
            tracing::warn!(%peer, %proposer, %height, "proposal parts not signed by their proposer; dropped");
            return None;
        }
        Some(Assembled {
            height,
            round,
            pol_round,
            proposer,
            bytes: chunks.concat().into(),
        })
    }

    /// Checks a complete proposal for the next height.
    async fn receive(
        &mut self,
        assembled: Assembled,
    ) -> Result<Option<ProposedValue<LedgerContext>>, AppError> {
        let Assembled {
            height,
            round,
            pol_round,
            proposer,
            bytes,
        } = assembled;
        let value = self
            .execute(height, round, pol_round, proposer, &bytes)
            .await?;
        if let Some(value) = &value {
            self.proposed.entry(height).or_default().push(value.clone());
        }
        Ok(value)
    }

    /// Decodes a block value, executes the block on the tip and compares
    /// the state it leaves with the one claimed: `Valid` only if they
    /// agree. `None` if the bytes are no block value.
    async fn execute(
        &mut self,
        height: Height,
        round: Round,
        valid_round: Round,
        proposer: ValidatorAddress,
        bytes: &[u8],
    ) -> Result<Option<ProposedValue<LedgerContext>>, AppError> {
        let (block, claimed) = match decode_block_value(bytes) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(%proposer, %height, %error, "undecodable proposal");
                return Ok(None);
            }
        };
        let value = LedgerValue::new(ledger_core::Sealable::seal(block.clone()).hash(), claimed);
        let validity = if block.depth != height.0 {
            Validity::Invalid
        } else {
            match self.chain.check_block(block).await {
                Ok(changes) => {
                    let state = state_commitment(&self.tip.1, &changes);
                    if state == claimed {
                        self.candidates
                            .insert(value.id(), Candidate { changes, state });
                        Validity::Valid
                    } else {
                        tracing::warn!(%proposer, %height, "proposal claims a state its block does not leave");
                        Validity::Invalid
                    }
                }
                Err(ChainError::Core(error)) => {
                    tracing::warn!(%proposer, %height, %error, "invalid block proposed");
                    Validity::Invalid
                }
                Err(error) => return Err(error.into()),
            }
        };
        Ok(Some(ProposedValue {
            height,
            round,
            valid_round,
            proposer,
            value,
            validity,
        }))
    }

    /// Commits a decided block with its certificate.
    async fn decided(
        &mut self,
        certificate: CommitCertificate<LedgerContext>,
    ) -> Result<(), AppError> {
        let height = certificate.height;
        if height.0 <= self.tip.0 {
            return Ok(());
        }
        let Some(Candidate { mut changes, state }) = self.candidates.remove(&certificate.value_id)
        else {
            tracing::error!(%height, value = %certificate.value_id, "decided a value this validator never executed");
            return Ok(());
        };
        let encoded = Codec::<CommitCertificate<LedgerContext>>::encode(&LedgerCodec, &certificate)
            .map_err(|_| AppError::NetworkClosed)?;
        changes.decision = Some(Decision {
            state,
            certificate: encoded.to_vec(),
        });
        let transactions = changes.block.transactions.len();
        let tip = self.chain.commit_decided(changes).await?;
        tracing::info!(%height, round = %certificate.round, transactions, hash = %tip.hash, "decided");
        self.tip = (tip.depth, state);
        self.candidates.clear();
        self.built.retain(|(h, _), _| h.0 > tip.depth);
        self.proposed = self.proposed.split_off(&Height(tip.depth + 1));
        self.waiting = self.waiting.split_off(&Height(tip.depth + 1));
        Ok(())
    }

    /// The decided blocks from `start` to `end` that are stored, in order.
    fn decided_values(
        &self,
        start: Height,
        end: Height,
    ) -> Result<Vec<RawDecidedValue<LedgerContext>>, AppError> {
        let state = self.chain.state();
        let mut values = Vec::new();
        for depth in start.0..=end.0.min(self.tip.0) {
            let (Some(block), Some(decision)) = (state.block_at(depth)?, state.decision(depth)?)
            else {
                break;
            };
            let Ok(certificate) = Codec::<CommitCertificate<LedgerContext>>::decode(
                &LedgerCodec,
                Bytes::from(decision.certificate),
            ) else {
                tracing::error!(depth, "stored commit certificate does not decode");
                break;
            };
            values.push(RawDecidedValue::new(
                encode_block_value(&block, &decision.state),
                ExtendedCommitCertificate::from_commit_certificate_and_extensions(
                    certificate,
                    Default::default(),
                ),
            ));
        }
        Ok(values)
    }
}

fn mtypes_validator<'a>(
    validators: &'a ValidatorSet,
    address: &ValidatorAddress,
) -> Option<&'a malachitebft_signing_ed25519::PublicKey> {
    validators
        .get_by_address(address)
        .map(|validator| validator.public_key())
}

/// The tip's depth and the commitment to its state: computed from the
/// genesis at depth 0, else the one stored with the tip's decision.
fn tip_commitment<S: StateRead>(state: &S, genesis: &Genesis) -> Result<(u64, Hash), AppError> {
    let depth = state.tip()?.map_or(0, |tip| tip.depth);
    if depth == 0 {
        // Every validator reads the same genesis file, so resolves the same
        // settings (a store holding others is refused when the ledger opens).
        let changes = execute_genesis(genesis.block(), &genesis.settings.resolve())?;
        return Ok((0, state_commitment(&Hash::ZERO, &changes)));
    }
    match state.decision(depth)? {
        Some(decision) => Ok((depth, decision.state)),
        None => Err(AppError::Undecided { depth }),
    }
}
