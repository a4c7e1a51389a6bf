//! [`LedgerCodec`]: every message validators exchange or log, as bytes.
//!
//! One hand-written binary layout for all of them: integers big-endian
//! and fixed-width, a tag byte before each variant, a `u32` length before
//! each list and byte string, rounds as a tag (0 nil, 1 then a `u32`).
//! Decoding refuses truncated input, unknown tags, lengths past what the
//! bytes can hold and trailing bytes, and never panics: peers are not
//! trusted. A value is a block hash and a state commitment; the block
//! itself travels as [`encode_block_value`].

use std::ops::RangeInclusive;

use bytes::Bytes;
use ledger_core::{Block, Hash};
use malachitebft_app_channel::app::consensus::LivenessMsg;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_app_channel::app::types::{PeerId, ProposedValue, SignedConsensusMsg};
use malachitebft_core_types::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, ExtendedCommitSignature,
    NilOrVal, PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType,
    RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_signing_ed25519::Signature;

use crate::context::{
    Height, LedgerContext, LedgerValue, Proposal, ProposalPart, ValidatorAddress, ValueId, Vote,
};
use crate::error::CodecError;

type Ctx = LedgerContext;

/// The codec of every consensus, sync and write-ahead-log message.
#[derive(Clone, Copy, Debug, Default)]
pub struct LedgerCodec;

/// Writes one message.
#[derive(Default)]
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }

    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn len(&mut self, what: &'static str, len: usize) -> Result<(), CodecError> {
        let len = u32::try_from(len).map_err(|_| CodecError::TooLarge { what, len })?;
        self.u32(len);
        Ok(())
    }

    fn bytes(&mut self, what: &'static str, bytes: &[u8]) -> Result<(), CodecError> {
        self.len(what, bytes.len())?;
        self.raw(bytes);
        Ok(())
    }

    fn height(&mut self, height: Height) {
        self.u64(height.0);
    }

    /// `items`, each written by `item`, after their count.
    fn list<T>(
        &mut self,
        what: &'static str,
        items: &[T],
        mut item: impl FnMut(&mut Self, &T) -> Result<(), CodecError>,
    ) -> Result<(), CodecError> {
        self.len(what, items.len())?;
        items.iter().try_for_each(|each| item(self, each))
    }

    /// What every certificate of a decision starts with.
    fn certificate_head(&mut self, height: Height, round: Round, value_id: &ValueId) {
        self.height(height);
        self.round(round);
        self.value_id(value_id);
    }

    /// An address and a signature: the common signature of a certificate.
    fn signed_by(
        &mut self,
        address: &ValidatorAddress,
        signature: &Signature,
    ) -> Result<(), CodecError> {
        self.address(address);
        self.signature(signature);
        Ok(())
    }

    fn round(&mut self, round: Round) {
        match round.as_u32() {
            None => self.u8(0),
            Some(round) => {
                self.u8(1);
                self.u32(round);
            }
        }
    }

    fn address(&mut self, address: &ValidatorAddress) {
        self.raw(&address.0);
    }

    fn value_id(&mut self, id: &ValueId) {
        self.raw(id.0.as_bytes());
    }

    fn nil_or_value_id(&mut self, value: &NilOrVal<ValueId>) {
        match value {
            NilOrVal::Nil => self.u8(0),
            NilOrVal::Val(id) => {
                self.u8(1);
                self.value_id(id);
            }
        }
    }

    fn signature(&mut self, signature: &Signature) {
        self.raw(&signature.to_bytes());
    }

    fn vote_type(&mut self, kind: VoteType) {
        self.u8(match kind {
            VoteType::Prevote => 0,
            VoteType::Precommit => 1,
        });
    }

    fn value(&mut self, value: &LedgerValue) -> Result<(), CodecError> {
        self.raw(value.block().as_bytes());
        self.raw(value.state().as_bytes());
        Ok(())
    }

    fn extension(
        &mut self,
        extension: &Option<SignedMessage<Ctx, Bytes>>,
    ) -> Result<(), CodecError> {
        match extension {
            None => self.u8(0),
            Some(extension) => {
                self.u8(1);
                self.bytes("vote extension", &extension.message)?;
                self.signature(&extension.signature);
            }
        }
        Ok(())
    }

    fn vote(&mut self, vote: &Vote) -> Result<(), CodecError> {
        self.vote_type(vote.kind);
        self.height(vote.height);
        self.round(vote.round);
        self.nil_or_value_id(&vote.value);
        self.address(&vote.validator);
        self.extension(&vote.extension)
    }

    fn signed_vote(&mut self, vote: &SignedMessage<Ctx, Vote>) -> Result<(), CodecError> {
        self.vote(&vote.message)?;
        self.signature(&vote.signature);
        Ok(())
    }

    fn proposal(&mut self, proposal: &Proposal) -> Result<(), CodecError> {
        self.height(proposal.height);
        self.round(proposal.round);
        self.round(proposal.pol_round);
        self.address(&proposal.proposer);
        self.value(&proposal.value)
    }

    fn part(&mut self, part: &ProposalPart) -> Result<(), CodecError> {
        match part {
            ProposalPart::Init {
                height,
                round,
                pol_round,
                proposer,
            } => {
                self.u8(0);
                self.height(*height);
                self.round(*round);
                self.round(*pol_round);
                self.address(proposer);
            }
            ProposalPart::Data(chunk) => {
                self.u8(1);
                self.bytes("proposal part", chunk)?;
            }
            ProposalPart::Fin(signature) => {
                self.u8(2);
                self.signature(signature);
            }
        }
        Ok(())
    }

    fn commit_certificate(
        &mut self,
        certificate: &CommitCertificate<Ctx>,
    ) -> Result<(), CodecError> {
        let c = certificate;
        self.certificate_head(c.height, c.round, &c.value_id);
        self.list("commit signatures", &c.commit_signatures, |w, s| {
            w.signed_by(&s.address, &s.signature)
        })
    }

    fn extended_certificate(
        &mut self,
        certificate: &ExtendedCommitCertificate<Ctx>,
    ) -> Result<(), CodecError> {
        let c = certificate;
        self.certificate_head(c.height, c.round, &c.value_id);
        self.list("commit signatures", &c.commit_signatures, |w, s| {
            w.signed_by(&s.address, &s.signature)?;
            w.extension(&s.extension)
        })
    }

    fn polka_certificate(&mut self, certificate: &PolkaCertificate<Ctx>) -> Result<(), CodecError> {
        let c = certificate;
        self.certificate_head(c.height, c.round, &c.value_id);
        self.list("polka signatures", &c.polka_signatures, |w, s| {
            w.signed_by(&s.address, &s.signature)
        })
    }

    fn round_certificate(&mut self, certificate: &RoundCertificate<Ctx>) -> Result<(), CodecError> {
        self.height(certificate.height);
        self.round(certificate.round);
        self.u8(match certificate.cert_type {
            RoundCertificateType::Skip => 0,
            RoundCertificateType::Precommit => 1,
        });
        self.list("round signatures", &certificate.round_signatures, |w, s| {
            w.vote_type(s.vote_type);
            w.nil_or_value_id(&s.value_id);
            w.signed_by(&s.address, &s.signature)
        })
    }

    fn peer_id(&mut self, peer: &PeerId) -> Result<(), CodecError> {
        self.bytes("peer id", &peer.to_bytes())
    }

    fn finish(self) -> Bytes {
        Bytes::from(self.0)
    }
}

/// Reads one message.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

/// The size of an ed25519 signature.
const SIGNATURE: usize = 64;

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn take(&mut self, what: &'static str, len: usize) -> Result<&'a [u8], CodecError> {
        if self.rest.len() < len {
            return Err(CodecError::Truncated {
                what,
                needed: len,
                left: self.rest.len(),
            });
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CodecError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(what, N)?);
        Ok(array)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        self.array::<1>(what).map(|[byte]| byte)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        self.array(what).map(u32::from_be_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, CodecError> {
        self.array(what).map(u64::from_be_bytes)
    }

    /// A list length, refused when even `min_item` bytes per item would
    /// not fit in what is left: a lying length allocates nothing.
    fn len(&mut self, what: &'static str, min_item: usize) -> Result<usize, CodecError> {
        let len = self.u32(what)?;
        let max = self.rest.len() / min_item.max(1);
        match usize::try_from(len) {
            Ok(len) if len <= max => Ok(len),
            _ => Err(CodecError::Length {
                what,
                len: u64::from(len),
                max: max as u64,
            }),
        }
    }

    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], CodecError> {
        let len = self.len(what, 1)?;
        self.take(what, len)
    }

    /// A list of items of at least `min_item` bytes each, read by `item`.
    fn list<T>(
        &mut self,
        what: &'static str,
        min_item: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, CodecError>,
    ) -> Result<Vec<T>, CodecError> {
        let count = self.len(what, min_item)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(item(self)?);
        }
        Ok(items)
    }

    /// What every certificate of a decision starts with.
    fn certificate_head(&mut self) -> Result<(Height, Round, ValueId), CodecError> {
        Ok((self.height()?, self.round()?, self.value_id()?))
    }

    fn tag(&mut self, what: &'static str, variants: u8) -> Result<u8, CodecError> {
        let tag = self.u8(what)?;
        if tag >= variants {
            return Err(CodecError::Tag { what, tag });
        }
        Ok(tag)
    }

    fn height(&mut self) -> Result<Height, CodecError> {
        self.u64("height").map(Height)
    }

    fn round(&mut self) -> Result<Round, CodecError> {
        match self.tag("round", 2)? {
            0 => Ok(Round::Nil),
            _ => self.u32("round").map(Round::Some),
        }
    }

    fn address(&mut self) -> Result<ValidatorAddress, CodecError> {
        self.array("validator address").map(ValidatorAddress)
    }

    fn value_id(&mut self) -> Result<ValueId, CodecError> {
        self.array("value id").map(|bytes| ValueId(Hash(bytes)))
    }

    fn nil_or_value_id(&mut self) -> Result<NilOrVal<ValueId>, CodecError> {
        match self.tag("value id", 2)? {
            0 => Ok(NilOrVal::Nil),
            _ => self.value_id().map(NilOrVal::Val),
        }
    }

    fn signature(&mut self) -> Result<Signature, CodecError> {
        self.array::<SIGNATURE>("signature")
            .map(Signature::from_bytes)
    }

    fn vote_type(&mut self) -> Result<VoteType, CodecError> {
        match self.tag("vote type", 2)? {
            0 => Ok(VoteType::Prevote),
            _ => Ok(VoteType::Precommit),
        }
    }

    fn value(&mut self) -> Result<LedgerValue, CodecError> {
        let block = Hash(self.array("block hash")?);
        let state = Hash(self.array("state commitment")?);
        Ok(LedgerValue::new(block, state))
    }

    fn extension(&mut self) -> Result<Option<SignedMessage<Ctx, Bytes>>, CodecError> {
        match self.tag("vote extension", 2)? {
            0 => Ok(None),
            _ => {
                let message = Bytes::copy_from_slice(self.bytes("vote extension")?);
                let signature = self.signature()?;
                Ok(Some(SignedMessage::new(message, signature)))
            }
        }
    }

    fn vote(&mut self) -> Result<Vote, CodecError> {
        Ok(Vote {
            kind: self.vote_type()?,
            height: self.height()?,
            round: self.round()?,
            value: self.nil_or_value_id()?,
            validator: self.address()?,
            extension: self.extension()?,
        })
    }

    fn signed_vote(&mut self) -> Result<SignedMessage<Ctx, Vote>, CodecError> {
        let vote = self.vote()?;
        Ok(SignedMessage::new(vote, self.signature()?))
    }

    fn proposal(&mut self) -> Result<Proposal, CodecError> {
        Ok(Proposal {
            height: self.height()?,
            round: self.round()?,
            pol_round: self.round()?,
            proposer: self.address()?,
            value: self.value()?,
        })
    }

    fn part(&mut self) -> Result<ProposalPart, CodecError> {
        Ok(match self.tag("proposal part", 3)? {
            0 => ProposalPart::Init {
                height: self.height()?,
                round: self.round()?,
                pol_round: self.round()?,
                proposer: self.address()?,
            },
            1 => ProposalPart::Data(Bytes::copy_from_slice(self.bytes("proposal part")?)),
            _ => ProposalPart::Fin(self.signature()?),
        })
    }

    fn commit_certificate(&mut self) -> Result<CommitCertificate<Ctx>, CodecError> {
        let (height, round, value_id) = self.certificate_head()?;
        let commit_signatures = self.list("commit signatures", 20 + SIGNATURE, |r| {
            Ok(CommitSignature {
                address: r.address()?,
                signature: r.signature()?,
            })
        })?;
        Ok(CommitCertificate {
            height,
            round,
            value_id,
            commit_signatures,
        })
    }

    fn extended_certificate(&mut self) -> Result<ExtendedCommitCertificate<Ctx>, CodecError> {
        let (height, round, value_id) = self.certificate_head()?;
        let commit_signatures = self.list("commit signatures", 20 + SIGNATURE + 1, |r| {
            Ok(ExtendedCommitSignature {
                address: r.address()?,
                signature: r.signature()?,
                extension: r.extension()?,
            })
        })?;
        Ok(ExtendedCommitCertificate {
            height,
            round,
            value_id,
            commit_signatures,
        })
    }

    fn polka_certificate(&mut self) -> Result<PolkaCertificate<Ctx>, CodecError> {
        let (height, round, value_id) = self.certificate_head()?;
        let polka_signatures = self.list("polka signatures", 20 + SIGNATURE, |r| {
            Ok(PolkaSignature {
                address: r.address()?,
                signature: r.signature()?,
            })
        })?;
        Ok(PolkaCertificate {
            height,
            round,
            value_id,
            polka_signatures,
        })
    }

    fn round_certificate(&mut self) -> Result<RoundCertificate<Ctx>, CodecError> {
        let height = self.height()?;
        let round = self.round()?;
        let cert_type = match self.tag("round certificate type", 2)? {
            0 => RoundCertificateType::Skip,
            _ => RoundCertificateType::Precommit,
        };
        let round_signatures = self.list("round signatures", 1 + 1 + 20 + SIGNATURE, |r| {
            Ok(RoundSignature {
                vote_type: r.vote_type()?,
                value_id: r.nil_or_value_id()?,
                address: r.address()?,
                signature: r.signature()?,
            })
        })?;
        Ok(RoundCertificate {
            height,
            round,
            cert_type,
            round_signatures,
        })
    }

    fn peer_id(&mut self) -> Result<PeerId, CodecError> {
        PeerId::from_bytes(self.bytes("peer id")?).map_err(|_| CodecError::PeerId)
    }

    fn end<T>(self, value: T) -> Result<T, CodecError> {
        match self.rest.len() {
            0 => Ok(value),
            extra => Err(CodecError::Trailing { extra }),
        }
    }
}

/// A block with the state commitment its proposer claims for it: what a
/// proposal's parts carry and a sync response holds. The commitment (32),
/// then the block's ledger encoding to the end.
pub fn encode_block_value(block: &Block, state: &Hash) -> Bytes {
    let encoded = block.encode();
    let mut bytes = Vec::with_capacity(32 + encoded.len());
    bytes.extend_from_slice(state.as_bytes());
    bytes.extend_from_slice(&encoded);
    Bytes::from(bytes)
}

/// Reads [`encode_block_value`]'s bytes back.
pub fn decode_block_value(bytes: &[u8]) -> Result<(Block, Hash), CodecError> {
    let mut reader = Reader::new(bytes);
    let state = Hash(reader.array("state commitment")?);
    let block = Block::decode(reader.rest).map_err(CodecError::Block)?;
    Ok((block, state))
}

/// Encodes with `write`.
fn encode(write: impl FnOnce(&mut Writer) -> Result<(), CodecError>) -> Result<Bytes, CodecError> {
    let mut writer = Writer::default();
    write(&mut writer)?;
    Ok(writer.finish())
}

/// Decodes all of `bytes` with `read`.
fn decode<'a, T>(
    bytes: &'a [u8],
    read: impl FnOnce(&mut Reader<'a>) -> Result<T, CodecError>,
) -> Result<T, CodecError> {
    let mut reader = Reader::new(bytes);
    let value = read(&mut reader)?;
    reader.end(value)
}

/// Implements [`Codec`] for one message type from a writer and a reader.
macro_rules! codec {
    ($type:ty, |$w:ident, $msg:ident| $write:expr, |$r:ident| $read:expr) => {
        impl Codec<$type> for LedgerCodec {
            type Error = CodecError;

            fn decode(&self, bytes: Bytes) -> Result<$type, CodecError> {
                decode(&bytes, |$r| $read)
            }

            fn encode(&self, $msg: &$type) -> Result<Bytes, CodecError> {
                encode(|$w| $write)
            }
        }
    };
}

codec!(ProposalPart, |w, part| w.part(part), |r| r.part());

codec!(LedgerValue, |w, value| w.value(value), |r| r.value());

codec!(
    CommitCertificate<Ctx>,
    |w, certificate| w.commit_certificate(certificate),
    |r| r.commit_certificate()
);

codec!(
    SignedConsensusMsg<Ctx>,
    |w, msg| match msg {
        SignedConsensusMsg::Vote(vote) => {
            w.u8(0);
            w.signed_vote(vote)
        }
        SignedConsensusMsg::Proposal(proposal) => {
            w.u8(1);
            w.proposal(&proposal.message)?;
            w.signature(&proposal.signature);
            Ok(())
        }
    },
    |r| match r.tag("consensus message", 2)? {
        0 => r.signed_vote().map(SignedConsensusMsg::Vote),
        _ => {
            let proposal = r.proposal()?;
            let signature = r.signature()?;
            Ok(SignedConsensusMsg::Proposal(SignedMessage::new(
                proposal, signature,
            )))
        }
    }
);

codec!(
    LivenessMsg<Ctx>,
    |w, msg| match msg {
        LivenessMsg::Vote(vote) => {
            w.u8(0);
            w.signed_vote(vote)
        }
        LivenessMsg::PolkaCertificate(certificate) => {
            w.u8(1);
            w.polka_certificate(certificate)
        }
        LivenessMsg::SkipRoundCertificate(certificate) => {
            w.u8(2);
            w.round_certificate(certificate)
        }
    },
    |r| match r.tag("liveness message", 3)? {
        0 => r.signed_vote().map(LivenessMsg::Vote),
        1 => r.polka_certificate().map(LivenessMsg::PolkaCertificate),
        _ => r.round_certificate().map(LivenessMsg::SkipRoundCertificate),
    }
);

codec!(
    StreamMessage<ProposalPart>,
    |w, msg| {
        w.bytes("stream id", &msg.stream_id.to_bytes())?;
        w.u64(msg.sequence);
        match &msg.content {
            StreamContent::Data(part) => {
                w.u8(0);
                w.part(part)
            }
            StreamContent::Fin => {
                w.u8(1);
                Ok(())
            }
        }
    },
    |r| {
        let stream_id = StreamId::new(Bytes::copy_from_slice(r.bytes("stream id")?));
        let sequence = r.u64("stream sequence")?;
        let content = match r.tag("stream content", 2)? {
            0 => StreamContent::Data(r.part()?),
            _ => StreamContent::Fin,
        };
        Ok(StreamMessage::new(stream_id, sequence, content))
    }
);

codec!(
    ValidatorProof<Ctx>,
    |w, proof| {
        w.bytes("public key", &proof.public_key)?;
        w.bytes("peer id", &proof.peer_id)?;
        w.signature(&proof.signature);
        Ok(())
    },
    |r| {
        let public_key = r.bytes("public key")?.to_vec();
        let peer_id = r.bytes("peer id")?.to_vec();
        Ok(ValidatorProof::new(public_key, peer_id, r.signature()?))
    }
);

codec!(
    Status<Ctx>,
    |w, status| {
        w.peer_id(&status.peer_id)?;
        w.height(status.tip_height);
        w.height(status.history_min_height);
        Ok(())
    },
    |r| Ok(Status {
        peer_id: r.peer_id()?,
        tip_height: r.height()?,
        history_min_height: r.height()?,
    })
);

codec!(
    Request<Ctx>,
    |w, request| match request {
        Request::ValueRequest(request) => {
            w.u8(0);
            w.height(*request.range.start());
            w.height(*request.range.end());
            Ok(())
        }
    },
    |r| {
        r.tag("sync request", 1)?;
        let range: RangeInclusive<Height> = r.height()?..=r.height()?;
        Ok(Request::ValueRequest(malachitebft_sync::ValueRequest::new(
            range,
        )))
    }
);

codec!(
    Response<Ctx>,
    |w, response| match response {
        Response::ValueResponse(response) => {
            w.u8(0);
            w.height(response.start_height);
            w.list("decided values", &response.values, |w, value| {
                w.bytes("decided value", &value.value_bytes)?;
                w.extended_certificate(&value.certificate)
            })
        }
    },
    |r| {
        r.tag("sync response", 1)?;
        let start_height = r.height()?;
        let values = r.list("decided values", 4 + 8 + 1 + 32 + 4, |r| {
            let value_bytes = Bytes::copy_from_slice(r.bytes("decided value")?);
            Ok(RawDecidedValue::new(value_bytes, r.extended_certificate()?))
        })?;
        Ok(Response::ValueResponse(
            malachitebft_sync::ValueResponse::new(start_height, values),
        ))
    }
);

impl HasEncodedLen<Response<Ctx>> for LedgerCodec {
    fn encoded_len(&self, response: &Response<Ctx>) -> Result<usize, CodecError> {
        Codec::<Response<Ctx>>::encode(self, response).map(|bytes| bytes.len())
    }
}

codec!(
    ProposedValue<Ctx>,
    |w, proposed| {
        w.height(proposed.height);
        w.round(proposed.round);
        w.round(proposed.valid_round);
        w.address(&proposed.proposer);
        w.u8(u8::from(proposed.validity.is_valid()));
        w.value(&proposed.value)
    },
    |r| Ok(ProposedValue {
        height: r.height()?,
        round: r.round()?,
        valid_round: r.round()?,
        proposer: r.address()?,
        validity: Validity::from_bool(r.tag("validity", 2)? == 1),
        value: r.value()?,
    })
);

codec!(
    PolkaCertificate<Ctx>,
    |w, certificate| w.polka_certificate(certificate),
    |r| r.polka_certificate()
);
