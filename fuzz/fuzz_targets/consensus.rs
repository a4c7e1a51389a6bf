//! Every message validators exchange or log, decoded by `LedgerCodec`
//! from arbitrary bytes (the first byte picks the message kind): never
//! panics, and what decodes encodes back to the same bytes (the codec is
//! canonical, so one message has one encoding).
#![no_main]

use bytes::Bytes;
use ledger_consensus::codec::{decode_block_value, encode_block_value};
use ledger_consensus::malachite::app_channel::app::consensus::LivenessMsg;
use ledger_consensus::malachite::app_channel::app::streaming::StreamMessage;
use ledger_consensus::malachite::app_channel::app::types::codec::Codec;
use ledger_consensus::malachite::app_channel::app::types::sync::{Request, Response, Status};
use ledger_consensus::malachite::app_channel::app::types::{ProposedValue, SignedConsensusMsg};
use ledger_consensus::malachite::core_types::{CommitCertificate, PolkaCertificate, ValidatorProof};
use ledger_consensus::{LedgerCodec, LedgerContext, ProposalPart};
use libfuzzer_sys::fuzz_target;

/// Decodes `bytes` as a `T`; if it decodes, it must encode back to them.
fn round_trip<T>(bytes: &[u8])
where
    LedgerCodec: Codec<T>,
{
    let bytes = Bytes::copy_from_slice(bytes);
    if let Ok(message) = Codec::<T>::decode(&LedgerCodec, bytes.clone()) {
        let again = Codec::<T>::encode(&LedgerCodec, &message).ok();
        assert_eq!(again.as_deref(), Some(&bytes[..]));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((kind, rest)) = data.split_first() else {
        return;
    };
    type Ctx = LedgerContext;
    match kind % 11 {
        0 => round_trip::<SignedConsensusMsg<Ctx>>(rest),
        1 => round_trip::<LivenessMsg<Ctx>>(rest),
        2 => round_trip::<StreamMessage<ProposalPart>>(rest),
        3 => round_trip::<ProposalPart>(rest),
        4 => round_trip::<ValidatorProof<Ctx>>(rest),
        5 => round_trip::<Status<Ctx>>(rest),
        6 => round_trip::<Request<Ctx>>(rest),
        7 => round_trip::<Response<Ctx>>(rest),
        8 => round_trip::<ProposedValue<Ctx>>(rest),
        9 => round_trip::<PolkaCertificate<Ctx>>(rest),
        _ => {
            round_trip::<CommitCertificate<Ctx>>(rest);
            if let Ok((block, state)) = decode_block_value(rest) {
                assert_eq!(&encode_block_value(&block, &state)[..], rest);
            }
        }
    }
});
