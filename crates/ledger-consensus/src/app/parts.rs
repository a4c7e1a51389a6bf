//! A proposal's parts: streaming this validator's proposals, and
//! reassembling others' from the parts as they arrive.

use std::collections::BTreeMap;

use bytes::Bytes;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{
    Round, Validator as _, ValidatorSet as _, Value as _,
};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::{Channels, NetworkMsg};

use super::{App, AppError};
use crate::codec::encode_block_value;
use crate::context::{Height, LedgerContext, LedgerValue, ProposalPart, ValidatorAddress};
use crate::signing::parts_digest;
use crate::ValidatorSet;

/// How big one data part of a proposal is.
pub const PART_BYTES: usize = 128 * 1024;

/// Streams of parts kept at once; a new one past it drops them all (a
/// flood of streams that never end must not hold memory).
const MAX_STREAMS: usize = 256;

/// Bytes one stream may hold before it is dropped as hostile.
const MAX_STREAM_BYTES: usize = 64 << 20;

/// A proposal's parts as they arrive.
#[derive(Default)]
pub(super) struct Stream {
    init: Option<(Height, Round, Round, ValidatorAddress)>,
    chunks: BTreeMap<u64, Bytes>,
    fin: Option<malachitebft_signing_ed25519::Signature>,
    /// The sequence number of the end of the stream.
    end: Option<u64>,
    bytes: usize,
}

/// A complete, signed proposal waiting for its height.
pub(super) struct Assembled {
    pub(super) height: Height,
    pub(super) round: Round,
    pub(super) pol_round: Round,
    pub(super) proposer: ValidatorAddress,
    pub(super) bytes: Bytes,
}

impl<S> App<S>
where
    S: ledger_core::StateRead + Clone + Send + Sync + 'static,
{
    /// Publishes a candidate of this validator's as parts: an `Init`, the
    /// block value in chunks, a `Fin` signing them, and the stream's end.
    pub(super) async fn stream(
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
        let bytes = encode_block_value(&candidate.changes.block, &candidate.after.state);
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
    pub(super) fn part(
        &mut self,
        peer: PeerId,
        message: StreamMessage<ProposalPart>,
    ) -> Option<Assembled> {
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
}

fn mtypes_validator<'a>(
    validators: &'a ValidatorSet,
    address: &ValidatorAddress,
) -> Option<&'a malachitebft_signing_ed25519::PublicKey> {
    validators
        .get_by_address(address)
        .map(|validator| validator.public_key())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ledger_chain::{ChainService, ManualClock, ProducerConfig};
    use ledger_core::testing::{genesis_for, keys, T0};
    use ledger_core::{Address, ChainConfig, Ledger, MemoryStore};
    use malachitebft_app_channel::app::types::core::LinearTimeouts;

    use super::*;
    use crate::{AppConfig, ValidatorEntry, ValidatorKey, ValidatorsFile};

    /// An app whose validator set is `proposer` (seed 1) and `other`
    /// (seed 2), on a driven chain in memory.
    fn app() -> App<Arc<MemoryStore>> {
        let users = keys(1, 5);
        let genesis = genesis_for(&users);
        let ledger = Ledger::open(
            Arc::new(MemoryStore::new()),
            genesis.clone(),
            ChainConfig::default(),
        )
        .expect("opens");
        let mut config = ProducerConfig::new(Address([1; 20]));
        config.driven = true;
        let (chain, _thread) =
            ChainService::spawn(ledger, config, ManualClock::new(T0)).expect("spawns");
        let entry = |seed: u8| ValidatorEntry {
            public_key: hex::encode(ValidatorKey::from_bytes([seed; 32]).public_key().as_bytes()),
            power: 1,
            p2p: None,
            api: None,
        };
        let validators = ValidatorsFile::from_entries(vec![entry(1), entry(2)]).expect("valid");
        let config = AppConfig {
            coinbase: Address([1; 20]),
            timeouts: LinearTimeouts::default(),
        };
        App::new(
            chain,
            &genesis,
            ValidatorKey::from_bytes([2; 32]),
            validators.set().clone(),
            config,
        )
        .expect("an app")
    }

    /// The messages of one stream: Init, `chunks`, Fin signed by `signer`,
    /// end.
    fn messages(signer: &ValidatorKey, chunks: &[&[u8]]) -> Vec<StreamMessage<ProposalPart>> {
        let proposer = ValidatorKey::from_bytes([1; 32]).address();
        let chunks: Vec<Bytes> = chunks.iter().map(|c| Bytes::copy_from_slice(c)).collect();
        let digest = parts_digest(Height(1), Round::new(0), Round::Nil, &proposer, &chunks);
        let id = StreamId::new(Bytes::from_static(b"s"));
        std::iter::once(ProposalPart::Init {
            height: Height(1),
            round: Round::new(0),
            pol_round: Round::Nil,
            proposer,
        })
        .chain(chunks.into_iter().map(ProposalPart::Data))
        .chain(std::iter::once(ProposalPart::Fin(
            signer.sign(digest.as_bytes()),
        )))
        .map(StreamContent::Data)
        .chain(std::iter::once(StreamContent::Fin))
        .enumerate()
        .map(|(sequence, content)| StreamMessage::new(id.clone(), sequence as u64, content))
        .collect()
    }

    fn feed(
        app: &mut App<Arc<MemoryStore>>,
        messages: Vec<StreamMessage<ProposalPart>>,
    ) -> Vec<Option<Bytes>> {
        let keypair = malachitebft_app_channel::app::types::Keypair::generate_ed25519();
        let peer =
            PeerId::from_bytes(&keypair.public().to_peer_id().to_bytes()).expect("a peer id");
        messages
            .into_iter()
            .map(|message| app.part(peer, message).map(|assembled| assembled.bytes))
            .collect()
    }

    #[test]
    fn parts_in_any_order_assemble_once_complete() {
        let proposer = ValidatorKey::from_bytes([1; 32]);
        for reversed in [false, true] {
            let mut app = app();
            let mut stream = messages(&proposer, &[b"ab", b"", b"cde"]);
            if reversed {
                stream.reverse();
            }
            let answers = feed(&mut app, stream);
            let (last, before) = answers.split_last().expect("answers");
            assert!(before.iter().all(Option::is_none), "assembled early");
            assert_eq!(last.as_deref(), Some(&b"abcde"[..]));
            assert!(app.streams.is_empty(), "the stream is released");
        }
    }

    #[test]
    fn parts_not_signed_by_their_proposer_are_dropped() {
        let mut app = app();
        let impostor = ValidatorKey::from_bytes([2; 32]);
        let answers = feed(&mut app, messages(&impostor, &[b"abc"]));
        assert!(answers.iter().all(Option::is_none));
        assert!(app.streams.is_empty(), "the stream is not kept either");
    }

    #[test]
    fn a_stream_past_its_byte_bound_is_dropped() {
        let mut app = app();
        let proposer = ValidatorKey::from_bytes([1; 32]);
        let big = vec![0u8; MAX_STREAM_BYTES / 2 + 1];
        let mut stream = messages(&proposer, &[&big, &big]);
        // Everything but the end: the second chunk crosses the bound.
        stream.truncate(3);
        let answers = feed(&mut app, stream);
        assert!(answers.iter().all(Option::is_none));
        assert!(app.streams.is_empty(), "dropped, memory released");
    }
}
