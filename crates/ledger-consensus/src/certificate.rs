//! Checking a stored decision without the network that made it: its
//! commit certificate must carry precommits for the block and state it
//! claims, each signed by a validator of the set, together more than two
//! thirds of the voting power. What a node fetching a snapshot of the
//! state trusts it by.

use bytes::Bytes;
use ledger_core::{Block, Decision, Hash, Sealed};
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, NilOrVal, Validator as _, ValidatorSet as _, Value as _, VoteType,
};

use crate::codec::LedgerCodec;
use crate::context::{Height, LedgerContext, LedgerValue, ValidatorAddress, ValidatorSet, Vote};
use crate::error::CodecError;
use crate::signing::vote_bytes;

/// Why a decision is not proven by its certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The certificate's bytes are no commit certificate.
    #[error("the commit certificate does not decode: {0}")]
    Decode(#[source] CodecError),
    /// It certifies another height.
    #[error("the certificate is for height {certified}, the block is at {depth}")]
    Height {
        /// The height certified.
        certified: u64,
        /// The block's depth.
        depth: u64,
    },
    /// It certifies another value than the block and the state claimed.
    #[error("the certificate is not for block {block} with state {state}")]
    Value {
        /// The block's hash.
        block: Hash,
        /// The state claimed.
        state: Hash,
    },
    /// A precommit is signed by no validator of the set.
    #[error("a precommit is signed by {address}, no validator of the set")]
    UnknownSigner {
        /// The signer named.
        address: ValidatorAddress,
    },
    /// A precommit's signature does not verify under its validator's key.
    #[error("the precommit of {address} does not verify")]
    Signature {
        /// The validator.
        address: ValidatorAddress,
    },
    /// The validators that signed hold two thirds of the power or less.
    #[error("precommits of {signed} of {total} voting power, more than two thirds needed")]
    Power {
        /// Power of the distinct validators that signed.
        signed: u64,
        /// The set's total power.
        total: u64,
    },
}

/// Checks that `decision` on `block` was decided by `validators`.
pub fn verify_decision(
    validators: &ValidatorSet,
    block: &Sealed<Block>,
    decision: &Decision,
) -> Result<(), CertificateError> {
    let certificate: CommitCertificate<LedgerContext> = LedgerCodec
        .decode(Bytes::copy_from_slice(&decision.certificate))
        .map_err(CertificateError::Decode)?;
    if certificate.height != Height(block.depth) {
        return Err(CertificateError::Height {
            certified: certificate.height.0,
            depth: block.depth,
        });
    }
    if certificate.value_id != LedgerValue::new(block.hash(), decision.state).id() {
        return Err(CertificateError::Value {
            block: block.hash(),
            state: decision.state,
        });
    }
    let mut signers = Vec::new();
    let mut signed = 0u64;
    for signature in &certificate.commit_signatures {
        let address = signature.address;
        let validator = validators
            .get_by_address(&address)
            .ok_or(CertificateError::UnknownSigner { address })?;
        let vote = Vote::new(
            VoteType::Precommit,
            certificate.height,
            certificate.round,
            NilOrVal::Val(certificate.value_id),
            address,
        );
        validator
            .public_key()
            .verify(&vote_bytes(&vote), &signature.signature)
            .map_err(|_| CertificateError::Signature { address })?;
        if !signers.contains(&address) {
            signers.push(address);
            signed = signed.saturating_add(validator.voting_power());
        }
    }
    let total = validators.total_voting_power();
    if u128::from(signed) * 3 <= u128::from(total) * 2 {
        return Err(CertificateError::Power { signed, total });
    }
    Ok(())
}
