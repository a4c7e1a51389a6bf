//! What a validator signs, and the keys it signs with.
//!
//! Every signed message starts with its own domain (`ledger-vote-v1`, …),
//! so a signature made for one kind of message is never valid for
//! another; the fields follow in a fixed big-endian layout.

use std::fmt;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use ledger_core::Hash;
use malachitebft_core_types::{
    self as mtypes, NilOrVal, Round, SignedMessage, ValidatorProof, VoteExtensionScope, VoteType,
};
use malachitebft_signing::{Error as SigningError, Signer, VerificationResult, Verifier};
use malachitebft_signing_ed25519::{PrivateKey, PublicKey, Signature};
use sha2::{Digest, Sha256};

use crate::context::{Height, LedgerContext, Proposal, ValidatorAddress, ValueId, Vote};
use crate::error::KeyFileError;

/// The bytes a validator signs for `vote`.
pub fn vote_bytes(vote: &Vote) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(14 + 1 + 8 + 8 + 33 + 20);
    bytes.extend_from_slice(b"ledger-vote-v1");
    bytes.push(match vote.kind {
        VoteType::Prevote => 0,
        VoteType::Precommit => 1,
    });
    bytes.extend_from_slice(&vote.height.0.to_be_bytes());
    bytes.extend_from_slice(&vote.round.as_i64().to_be_bytes());
    value_id_bytes(&mut bytes, &vote.value);
    bytes.extend_from_slice(&vote.validator.0);
    bytes
}

/// The bytes a proposer signs for `proposal`.
pub fn proposal_bytes(proposal: &Proposal) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(18 + 8 + 8 + 8 + 32 + 20);
    bytes.extend_from_slice(b"ledger-proposal-v1");
    bytes.extend_from_slice(&proposal.height.0.to_be_bytes());
    bytes.extend_from_slice(&proposal.round.as_i64().to_be_bytes());
    bytes.extend_from_slice(&proposal.pol_round.as_i64().to_be_bytes());
    bytes.extend_from_slice(mtypes::Value::id(&proposal.value).0.as_bytes());
    bytes.extend_from_slice(&proposal.proposer.0);
    bytes
}

/// The digest a proposer signs in a stream's `Fin` part: the stream's
/// height, round, polka round and proposer, then sha256 of its data chunks
/// in order.
pub fn parts_digest(
    height: Height,
    round: Round,
    pol_round: Round,
    proposer: &ValidatorAddress,
    chunks: &[Bytes],
) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(b"ledger-parts-v1");
    hasher.update(height.0.to_be_bytes());
    hasher.update(round.as_i64().to_be_bytes());
    hasher.update(pol_round.as_i64().to_be_bytes());
    hasher.update(proposer.0);
    for chunk in chunks {
        hasher.update((chunk.len() as u64).to_be_bytes());
        hasher.update(chunk);
    }
    Hash(hasher.finalize().into())
}

fn extension_bytes(scope: &VoteExtensionScope<LedgerContext>, extension: &Bytes) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(19 + 8 + 8 + 32 + 20 + extension.len());
    bytes.extend_from_slice(b"ledger-extension-v1");
    bytes.extend_from_slice(&scope.height.0.to_be_bytes());
    bytes.extend_from_slice(&scope.round.as_i64().to_be_bytes());
    bytes.extend_from_slice(scope.value_id.0.as_bytes());
    bytes.extend_from_slice(&scope.validator_address.0);
    bytes.extend_from_slice(extension);
    bytes
}

fn value_id_bytes(bytes: &mut Vec<u8>, value: &NilOrVal<ValueId>) {
    match value {
        NilOrVal::Nil => bytes.push(0),
        NilOrVal::Val(id) => {
            bytes.push(1);
            bytes.extend_from_slice(id.0.as_bytes());
        }
    }
}

/// A validator's ed25519 key. It never prints: its `Debug` shows the
/// address only.
#[derive(Clone)]
pub struct ValidatorKey(PrivateKey);

impl ValidatorKey {
    /// A new random key.
    pub fn generate() -> ValidatorKey {
        ValidatorKey(PrivateKey::generate(rand::rngs::OsRng))
    }

    /// The key of 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> ValidatorKey {
        ValidatorKey(PrivateKey::from(bytes))
    }

    /// Reads a key file: 64 hex digits (the 32 secret bytes), surrounding
    /// whitespace allowed.
    pub fn load(path: &Path) -> Result<ValidatorKey, KeyFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let text = text.trim();
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| KeyFileError::Format {
            path: path.to_owned(),
            length: text.len(),
        })?;
        Ok(ValidatorKey::from_bytes(bytes))
    }

    /// Writes the key file [`ValidatorKey::load`] reads, readable by its
    /// owner only.
    pub fn save(&self, path: &Path) -> Result<(), KeyFileError> {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let write = |options: &std::fs::OpenOptions| {
            let mut file = options.open(path)?;
            file.write_all(hex::encode(self.secret_bytes()).as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        };
        write(&options).map_err(|source| KeyFileError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// The 32 secret bytes, for the network key (libp2p and consensus
    /// share one key, as Malachite expects).
    pub(crate) fn secret_bytes(&self) -> [u8; 32] {
        self.0.inner().to_bytes()
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.0.public_key()
    }

    /// The validator address.
    pub fn address(&self) -> ValidatorAddress {
        ValidatorAddress::of(&self.public_key())
    }

    /// Signs `bytes`.
    pub fn sign(&self, bytes: &[u8]) -> Signature {
        self.0.sign(bytes)
    }
}

impl fmt::Debug for ValidatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidatorKey({})", self.address())
    }
}

#[async_trait]
impl Signer<LedgerContext> for ValidatorKey {
    async fn sign_vote(
        &self,
        vote: Vote,
    ) -> Result<SignedMessage<LedgerContext, Vote>, SigningError> {
        let signature = self.sign(&vote_bytes(&vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<LedgerContext, Proposal>, SigningError> {
        let signature = self.sign(&proposal_bytes(&proposal));
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<LedgerContext>,
        extension: Bytes,
    ) -> Result<SignedMessage<LedgerContext, Bytes>, SigningError> {
        let signature = self.sign(&extension_bytes(&scope, &extension));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<LedgerContext>, SigningError> {
        // Malachite's own preimage, so its network layer agrees.
        let bytes = ValidatorProof::<LedgerContext>::signing_bytes(&public_key, &peer_id);
        let signature = self.sign(&bytes);
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Checks signatures against the public keys it is handed.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignatureVerifier;

fn verified(public_key: &PublicKey, bytes: &[u8], signature: &Signature) -> VerificationResult {
    VerificationResult::from_bool(public_key.verify(bytes, signature).is_ok())
}

#[async_trait]
impl Verifier<LedgerContext> for SignatureVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verified(public_key, &vote_bytes(vote), signature))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verified(public_key, &proposal_bytes(proposal), signature))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<LedgerContext>,
        extension: &Bytes,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verified(
            public_key,
            &extension_bytes(scope, extension),
            signature,
        ))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<LedgerContext>,
    ) -> Result<VerificationResult, SigningError> {
        let Ok(bytes) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return Ok(VerificationResult::Invalid);
        };
        let Ok(public_key) = PublicKey::from_bytes(bytes) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(verified(
            &public_key,
            &ValidatorProof::<LedgerContext>::signing_bytes(&proof.public_key, &proof.peer_id),
            &proof.signature,
        ))
    }
}
