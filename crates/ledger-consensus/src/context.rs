//! The ledger's Malachite [`Context`]: what a height, a value, a proposal,
//! a vote and a validator are when the chain runs on Tendermint.
//!
//! A height is a block depth (the genesis, depth 0, is fixed by the
//! genesis file; consensus starts at 1). The value validators decide is a
//! block's hash together with the commitment to the state after it
//! ([`ledger_core::state_commitment`]), so agreeing on a value is agreeing
//! on the state, not only on the transactions.

use std::fmt;
use std::sync::Arc;

use ledger_core::Hash;
use malachitebft_core_types::{
    self as mtypes, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower,
};
use malachitebft_signing_ed25519::{Ed25519, PublicKey};
use sha2::{Digest, Sha256};

/// The chain as Malachite sees it. It holds nothing: every choice it makes
/// (the proposer of a round) is a function of its arguments, so every
/// validator makes the same one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerContext;

/// A block depth. Consensus decides depth 1 onwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mtypes::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: the first 20 bytes of sha256 of its ed25519
/// public key (as CometBFT derives it). Shown as 40 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorAddress(pub [u8; 20]);

impl ValidatorAddress {
    /// The address of `public_key`.
    pub fn of(public_key: &PublicKey) -> ValidatorAddress {
        let digest = Sha256::digest(public_key.as_bytes());
        let mut address = [0; 20];
        address.copy_from_slice(&digest[..20]);
        ValidatorAddress(address)
    }
}

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidatorAddress({self})")
    }
}

impl mtypes::Address for ValidatorAddress {}

/// What validators vote for: the id of a [`LedgerValue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueId(pub Hash);

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What validators decide: a block, by its hash, and the commitment to
/// the state after it. The block itself travels beside it, in the
/// proposal's parts and in sync responses ([`crate::codec::encode_block_value`]),
/// so votes and proposals stay a few dozen bytes whatever the block's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerValue {
    id: ValueId,
    block: Hash,
    state: Hash,
}

impl LedgerValue {
    /// The block of hash `block`, leaving the state committed to by `state`.
    pub fn new(block: Hash, state: Hash) -> LedgerValue {
        let mut hasher = Sha256::new();
        hasher.update(b"ledger-value-v1");
        hasher.update(block.as_bytes());
        hasher.update(state.as_bytes());
        LedgerValue {
            id: ValueId(Hash(hasher.finalize().into())),
            block,
            state,
        }
    }

    /// The hash of the block.
    pub fn block(&self) -> Hash {
        self.block
    }

    /// The commitment to the state after the block.
    pub fn state(&self) -> Hash {
        self.state
    }
}

impl mtypes::Value for LedgerValue {
    type Id = ValueId;

    fn id(&self) -> ValueId {
        self.id
    }
}

/// A proposal of a value for a height and round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The proposed value.
    pub value: LedgerValue,
    /// The round of the polka the value was locked in, or nil.
    pub pol_round: Round,
    /// The proposer.
    pub proposer: ValidatorAddress,
}

impl mtypes::Proposal<LedgerContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &LedgerValue {
        &self.value
    }

    fn take_value(self) -> LedgerValue {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

/// A prevote or a precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub kind: VoteType,
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The value voted for, or nil.
    pub value: NilOrVal<ValueId>,
    /// The voter.
    pub validator: ValidatorAddress,
    /// A vote extension (the ledger uses none; kept so votes round-trip).
    pub extension: Option<SignedExtension<LedgerContext>>,
}

impl Vote {
    /// A vote without extension.
    pub fn new(
        kind: VoteType,
        height: Height,
        round: Round,
        value: NilOrVal<ValueId>,
        validator: ValidatorAddress,
    ) -> Vote {
        Vote {
            kind,
            height,
            round,
            value,
            validator,
            extension: None,
        }
    }
}

impl mtypes::Vote<LedgerContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<ValueId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<ValueId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.kind
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<LedgerContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<LedgerContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<LedgerContext>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// A piece of a proposal as it travels between validators: a block can
/// be megabytes, so the proposer streams it as an `Init`, `Data` chunks
/// and a `Fin` that signs what came before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// Which proposal the stream carries.
    Init {
        /// The height.
        height: Height,
        /// The round.
        round: Round,
        /// The polka round, or nil.
        pol_round: Round,
        /// The proposer.
        proposer: ValidatorAddress,
    },
    /// A chunk of the value's encoding.
    Data(bytes::Bytes),
    /// The proposer's signature over the stream (see
    /// [`crate::signing::parts_digest`]).
    Fin(malachitebft_signing_ed25519::Signature),
}

impl mtypes::ProposalPart<LedgerContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin(_))
    }
}

/// A validator: its key and its voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    address: ValidatorAddress,
    public_key: PublicKey,
    voting_power: VotingPower,
}

impl Validator {
    /// The validator holding `public_key`, with `voting_power`.
    pub fn new(public_key: PublicKey, voting_power: VotingPower) -> Validator {
        Validator {
            address: ValidatorAddress::of(&public_key),
            public_key,
            voting_power,
        }
    }
}

impl mtypes::Validator<LedgerContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The validators of a network, in address order, each with power > 0.
/// Built by [`crate::ValidatorsFile`], which refuses an empty set, a
/// repeated key, a zero power and a total that overflows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Arc<[Validator]>,
    total: VotingPower,
}

impl ValidatorSet {
    /// `validators` sorted by address; the caller checked them.
    pub(crate) fn new_checked(mut validators: Vec<Validator>, total: VotingPower) -> ValidatorSet {
        validators.sort_by_key(|validator| validator.address);
        ValidatorSet {
            validators: validators.into(),
            total,
        }
    }

    /// The validators, in address order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }
}

impl mtypes::ValidatorSet<LedgerContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.total
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators
            .binary_search_by_key(address, |validator| validator.address)
            .ok()
            .map(|index| &self.validators[index])
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

impl mtypes::Context for LedgerContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = LedgerValue;
    type Vote = Vote;
    type Extension = bytes::Bytes;
    type SigningScheme = Ed25519;

    /// Proportional to voting power and the same on every validator: the
    /// slot sha256("ledger-proposer-v1" ‖ height ‖ round) mod the total
    /// power falls in one validator's share of the address-ordered
    /// powers. A round that failed (its proposer down) draws afresh.
    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let mut hasher = Sha256::new();
        hasher.update(b"ledger-proposer-v1");
        hasher.update(height.0.to_be_bytes());
        hasher.update(round.as_i64().to_be_bytes());
        let digest = hasher.finalize();
        let mut first = [0; 8];
        first.copy_from_slice(&digest[..8]);
        let mut slot = u64::from_be_bytes(first) % validator_set.total.max(1);
        for validator in validator_set.validators.iter() {
            match slot.checked_sub(validator.voting_power) {
                Some(rest) => slot = rest,
                None => return validator,
            }
        }
        // Unreachable for a set built by `ValidatorsFile` (the powers add
        // up to `total`); the last validator keeps this total anyway.
        &validator_set.validators[validator_set.validators.len() - 1]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: LedgerValue,
        pol_round: Round,
        address: ValidatorAddress,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<ValueId>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote::new(VoteType::Prevote, height, round, value_id, address)
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<ValueId>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote::new(VoteType::Precommit, height, round, value_id, address)
    }
}
