//! Every message validators exchange: it encodes, decodes back equal, and
//! no corruption of its bytes makes the decoder panic or accept trailing
//! garbage; what a validator signs verifies under its key only, and only
//! as the kind of message it was signed as.

use bytes::Bytes;
use ledger_consensus::codec::{decode_block_value, encode_block_value};
use ledger_consensus::malachite::app_channel::app::consensus::LivenessMsg;
use ledger_consensus::malachite::app_channel::app::streaming::{
    StreamContent, StreamId, StreamMessage,
};
use ledger_consensus::malachite::app_channel::app::types::codec::{Codec, HasEncodedLen};
use ledger_consensus::malachite::app_channel::app::types::sync::{
    RawDecidedValue, Request, Response, Status,
};
use ledger_consensus::malachite::app_channel::app::types::{
    PeerId, ProposedValue, SignedConsensusMsg,
};
use ledger_consensus::malachite::core_types::{
    CommitCertificate, CommitSignature, Context, ExtendedCommitCertificate,
    ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature, Round, RoundCertificate,
    RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof, Validity, Value,
    VoteExtensionScope,
};
use ledger_consensus::malachite::ed25519::{PublicKey, Signature};
use ledger_consensus::malachite::signing::{Signer, Verifier};
use ledger_consensus::{
    CodecError, Height, LedgerCodec, LedgerContext, LedgerValue, ProposalPart, SignatureVerifier,
    ValidatorKey, ValueId, Vote,
};
use ledger_core::testing::{keys, transfers_for};
use ledger_core::{Address, Block, Hash, Sealable};
use proptest::prelude::*;

fn block(depth: u64, transactions: usize) -> Block {
    Block {
        depth,
        nonce: 0,
        timestamp: 1_700_000_000 + depth as u32,
        previous_block_hash: Hash([depth as u8; 32]),
        coinbase: Address([7; 20]),
        transactions: transfers_for(&keys(3, 1), depth, transactions)
            .into_iter()
            .map(|tx| tx.seal())
            .collect(),
    }
}

fn value(depth: u64, transactions: usize) -> LedgerValue {
    LedgerValue::new(block(depth, transactions).seal().hash(), Hash([0xab; 32]))
}

fn key(seed: u8) -> ValidatorKey {
    ValidatorKey::from_bytes([seed; 32])
}

fn vote(height: u64, round: u32, value: NilOrVal<ValueId>, extension: bool) -> Vote {
    let mut vote =
        LedgerContext.new_precommit(Height(height), Round::new(round), value, key(1).address());
    if extension {
        vote.extension = Some(SignedMessage::new(
            Bytes::from_static(b"ext"),
            key(1).sign(b"ext"),
        ));
    }
    vote
}

fn signed_vote(vote: Vote) -> SignedMessage<LedgerContext, Vote> {
    let signature = key(1).sign(&ledger_consensus::signing::vote_bytes(&vote));
    SignedMessage::new(vote, signature)
}

/// Encodes, decodes, compares; then every strict prefix must be refused
/// (never panic) and one byte more must be refused as trailing.
fn round_trips<T>(message: &T)
where
    T: PartialEq + std::fmt::Debug,
    LedgerCodec: Codec<T, Error = CodecError>,
{
    let bytes = LedgerCodec.encode(message).expect("encodes");
    let back: T = LedgerCodec.decode(bytes.clone()).expect("decodes");
    assert_eq!(&back, message);
    for cut in 0..bytes.len() {
        let prefix = bytes.slice(..cut);
        assert!(
            Codec::<T>::decode(&LedgerCodec, prefix).is_err(),
            "a prefix of {cut} of {} bytes decoded",
            bytes.len()
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(matches!(
        Codec::<T>::decode(&LedgerCodec, longer.into()),
        Err(CodecError::Trailing { extra: 1 })
    ));
}

#[test]
fn consensus_messages_round_trip() {
    let value = value(3, 4);
    let id = NilOrVal::Val(value.id());
    round_trips(&SignedConsensusMsg::Vote(signed_vote(vote(
        3, 0, id, false,
    ))));
    round_trips(&SignedConsensusMsg::Vote(signed_vote(vote(
        3,
        2,
        NilOrVal::Nil,
        true,
    ))));
    let proposal = LedgerContext.new_proposal(
        Height(3),
        Round::new(1),
        value,
        Round::Nil,
        key(2).address(),
    );
    let signature = key(2).sign(&ledger_consensus::signing::proposal_bytes(&proposal));
    round_trips(&SignedConsensusMsg::Proposal(SignedMessage::new(
        proposal, signature,
    )));
    round_trips(&value);
    for part in [
        ProposalPart::Init {
            height: Height(3),
            round: Round::new(0),
            pol_round: Round::new(7),
            proposer: key(2).address(),
        },
        ProposalPart::Data(Bytes::from(vec![9; 1000])),
        ProposalPart::Data(Bytes::new()),
        ProposalPart::Fin(key(2).sign(b"parts")),
    ] {
        round_trips(&part);
        round_trips(&StreamMessage::new(
            StreamId::new(Bytes::from_static(b"stream")),
            4,
            StreamContent::Data(part),
        ));
    }
    round_trips(&StreamMessage::<ProposalPart>::new(
        StreamId::new(Bytes::new()),
        9,
        StreamContent::Fin,
    ));
    round_trips(&ProposedValue {
        height: Height(3),
        round: Round::new(1),
        valid_round: Round::Nil,
        proposer: key(2).address(),
        value,
        validity: Validity::Invalid,
    });
}

#[test]
fn certificates_and_liveness_messages_round_trip() {
    let id = value(5, 1).id();
    let signature = key(3).sign(b"x");
    let commit = CommitCertificate::<LedgerContext> {
        height: Height(5),
        round: Round::new(0),
        value_id: id,
        commit_signatures: vec![
            CommitSignature {
                address: key(3).address(),
                signature,
            };
            4
        ],
    };
    round_trips(&commit);
    let polka = PolkaCertificate::<LedgerContext> {
        height: Height(5),
        round: Round::new(2),
        value_id: id,
        polka_signatures: vec![PolkaSignature {
            address: key(4).address(),
            signature,
        }],
    };
    round_trips(&polka);
    round_trips(&LivenessMsg::PolkaCertificate(polka));
    round_trips(&LivenessMsg::Vote(signed_vote(vote(
        5,
        1,
        NilOrVal::Nil,
        false,
    ))));
    round_trips(&LivenessMsg::SkipRoundCertificate(RoundCertificate {
        height: Height(5),
        round: Round::new(3),
        cert_type: RoundCertificateType::Skip,
        round_signatures: vec![
            RoundSignature {
                vote_type: ledger_consensus::malachite::core_types::VoteType::Prevote,
                value_id: NilOrVal::Nil,
                address: key(3).address(),
                signature,
            },
            RoundSignature {
                vote_type: ledger_consensus::malachite::core_types::VoteType::Precommit,
                value_id: NilOrVal::Val(id),
                address: key(4).address(),
                signature,
            },
        ],
    }));
    round_trips(&ValidatorProof::<LedgerContext>::new(
        vec![1; 32],
        vec![2; 38],
        signature,
    ));
}

#[test]
fn sync_messages_round_trip() {
    let keypair = ledger_consensus::malachite::app_channel::app::types::Keypair::generate_ed25519();
    let peer = PeerId::from_bytes(&keypair.public().to_peer_id().to_bytes()).expect("a peer id");
    round_trips(&Status::<LedgerContext> {
        peer_id: peer,
        tip_height: Height(40),
        history_min_height: Height(1),
    });
    round_trips(&Request::<LedgerContext>::ValueRequest(
        malachitebft_sync_value_request(3, 9),
    ));
    let value = value(7, 2);
    let certificate = ExtendedCommitCertificate::<LedgerContext> {
        height: Height(7),
        round: Round::new(0),
        value_id: value.id(),
        commit_signatures: vec![
            ExtendedCommitSignature {
                address: key(5).address(),
                signature: key(5).sign(b"c"),
                extension: None,
            },
            ExtendedCommitSignature {
                address: key(6).address(),
                signature: key(6).sign(b"c"),
                extension: Some(SignedMessage::new(
                    Bytes::from_static(b"e"),
                    key(6).sign(b"e"),
                )),
            },
        ],
    };
    let encoded_value = LedgerCodec.encode(&value).expect("encodes");
    let response = Response::<LedgerContext>::ValueResponse(
        ledger_consensus::malachite::sync::ValueResponse::new(
            Height(7),
            vec![RawDecidedValue::new(encoded_value, certificate)],
        ),
    );
    round_trips(&response);
    assert_eq!(
        LedgerCodec.encoded_len(&response).expect("measures"),
        LedgerCodec.encode(&response).expect("encodes").len()
    );
}

fn malachitebft_sync_value_request(
    start: u64,
    end: u64,
) -> ledger_consensus::malachite::sync::ValueRequest<LedgerContext> {
    ledger_consensus::malachite::sync::ValueRequest::new(Height(start)..=Height(end))
}

#[test]
fn lying_lengths_and_unknown_tags_are_named() {
    // A vote extension claiming 4 GiB in a 20-byte message.
    let mut bytes = LedgerCodec
        .encode(&ProposalPart::Data(Bytes::from_static(b"abc")))
        .expect("encodes")
        .to_vec();
    bytes[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Codec::<ProposalPart>::decode(&LedgerCodec, bytes.into()),
        Err(CodecError::Length { what: "proposal part", len, max: 3 }) if len == u64::from(u32::MAX)
    ));
    assert!(matches!(
        Codec::<ProposalPart>::decode(&LedgerCodec, Bytes::from_static(&[3])),
        Err(CodecError::Tag {
            what: "proposal part",
            tag: 3
        })
    ));
}

/// A block with its claimed state reads back; damage in its block part is
/// the block decoder's error, named.
#[test]
fn block_values_read_back_and_damage_is_named() {
    let block = block(4, 3);
    let bytes = encode_block_value(&block, &Hash([5; 32]));
    assert_eq!(
        decode_block_value(&bytes).expect("decodes"),
        (block, Hash([5; 32]))
    );
    assert!(matches!(
        decode_block_value(&bytes[..31]),
        Err(CodecError::Truncated {
            what: "state commitment",
            needed: 32,
            left: 31
        })
    ));
    assert!(matches!(
        decode_block_value(&bytes[..bytes.len() - 1]),
        Err(CodecError::Block(_))
    ));
}

proptest! {
    /// Whatever bytes arrive, every decoder answers without panicking.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let bytes = Bytes::from(bytes);
        let _ = Codec::<SignedConsensusMsg<LedgerContext>>::decode(&LedgerCodec, bytes.clone());
        let _ = Codec::<LivenessMsg<LedgerContext>>::decode(&LedgerCodec, bytes.clone());
        let _ = Codec::<StreamMessage<ProposalPart>>::decode(&LedgerCodec, bytes.clone());
        let _ = Codec::<Response<LedgerContext>>::decode(&LedgerCodec, bytes.clone());
        let _ = Codec::<ProposedValue<LedgerContext>>::decode(&LedgerCodec, bytes.clone());
        let _ = Codec::<CommitCertificate<LedgerContext>>::decode(&LedgerCodec, bytes);
    }

    /// Votes of any height, round and value round-trip.
    #[test]
    fn any_vote_round_trips(height in any::<u64>(), round in any::<u32>(), id in any::<[u8; 32]>(), nil in any::<bool>()) {
        let value = if nil { NilOrVal::Nil } else { NilOrVal::Val(ValueId(Hash(id))) };
        let message = SignedConsensusMsg::Vote(signed_vote(vote(height, round, value, false)));
        let bytes = LedgerCodec.encode(&message).expect("encodes");
        prop_assert_eq!(LedgerCodec.decode(bytes).ok(), Some(message));
    }
}

#[tokio::test]
async fn signatures_verify_under_the_signer_key_and_kind_only() {
    let signer = key(1);
    let other = key(2);
    let value = value(2, 1);
    let vote = vote(2, 0, NilOrVal::Val(value.id()), false);
    let signed = signer.sign_vote(vote.clone()).await.expect("signs");
    async fn valid(vote: &Vote, signature: &Signature, public_key: &PublicKey) -> bool {
        SignatureVerifier
            .verify_signed_vote(vote, signature, public_key)
            .await
            .expect("verifies")
            .is_valid()
    }
    let signature = &signed.signature;
    assert!(valid(&vote, signature, &signer.public_key()).await);
    assert!(!valid(&vote, signature, &other.public_key()).await);
    let mut moved = vote.clone();
    moved.round = Round::new(1);
    assert!(!valid(&moved, signature, &signer.public_key()).await);
    let mut nil = vote.clone();
    nil.value = NilOrVal::Nil;
    assert!(!valid(&nil, signature, &signer.public_key()).await);

    // A proposal's signature is no vote's, and the reverse.
    let proposal = LedgerContext.new_proposal(
        Height(2),
        Round::new(0),
        value,
        Round::Nil,
        signer.address(),
    );
    let signed_proposal = signer.sign_proposal(proposal.clone()).await.expect("signs");
    assert!(SignatureVerifier
        .verify_signed_proposal(&proposal, &signed_proposal.signature, &signer.public_key())
        .await
        .expect("verifies")
        .is_valid());
    assert!(!SignatureVerifier
        .verify_signed_vote(&vote, &signed_proposal.signature, &signer.public_key())
        .await
        .expect("verifies")
        .is_valid());

    let scope = VoteExtensionScope::new(Height(2), Round::new(0), value.id(), signer.address());
    let extension = signer
        .sign_vote_extension(scope.clone(), Bytes::from_static(b"x"))
        .await
        .expect("signs");
    let elsewhere = VoteExtensionScope::new(Height(3), Round::new(0), value.id(), signer.address());
    for (scope, valid) in [(scope, true), (elsewhere, false)] {
        let result = SignatureVerifier
            .verify_signed_vote_extension(
                &scope,
                &extension.message,
                &extension.signature,
                &signer.public_key(),
            )
            .await
            .expect("verifies");
        assert_eq!(result.is_valid(), valid);
    }

    let proof = signer
        .sign_validator_proof(signer.public_key().as_bytes().to_vec(), b"peer".to_vec())
        .await
        .expect("signs");
    assert!(SignatureVerifier
        .verify_validator_proof(&proof)
        .await
        .expect("verifies")
        .is_valid());
    let forged = ValidatorProof::new(
        other.public_key().as_bytes().to_vec(),
        b"peer".to_vec(),
        proof.signature,
    );
    assert!(!SignatureVerifier
        .verify_validator_proof(&forged)
        .await
        .expect("verifies")
        .is_valid());
}
