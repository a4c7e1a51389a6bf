//! The seam to a smart-contract engine.
//!
//! Core decides *whether* a transaction reaches a contract and settles the
//! fee; the engine runs code. An engine reads state through [`StateView`]
//! and returns its changes instead of writing them, so core can drop them
//! on a revert and keep block application atomic. `ledger-vm` implements
//! [`ContractEngine`] on revm; [`NoContracts`] is the engine of a node
//! without one.

use crate::error::CoreError;
use crate::primitives::{Address, Balance, Hash};
use crate::settings::ChainSettings;
use crate::state::{AccountKind, Log};

/// The block a contract runs in. It may grow, so it is built by core,
/// never by a struct literal elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockEnv {
    /// The block's depth (`block.number`).
    pub depth: u64,
    /// The block's timestamp.
    pub timestamp: u32,
    /// The block's coinbase.
    pub coinbase: Address,
    /// The previous block's hash (`block.prevrandao`).
    pub previous_hash: Hash,
    /// The chain's fork, chain id and block gas limit.
    pub settings: ChainSettings,
}

/// What a call targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallTarget {
    /// Deploy the call data as init code at this (precomputed) address.
    Create(Address),
    /// Call the contract at this address.
    Call(Address),
}

/// One contract execution request.
#[derive(Clone, Copy, Debug)]
pub struct ContractCall<'a> {
    /// The sender.
    pub caller: Address,
    /// Creation or call.
    pub target: CallTarget,
    /// Value moved from `caller` to the contract.
    pub value: Balance,
    /// Init code (creation) or call data.
    pub data: &'a [u8],
    /// Gas available: the transaction's fee.
    pub gas_limit: u64,
}

/// How an execution ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContractResult {
    /// Finished; for a call, its return data.
    Success {
        /// Return data (empty for a creation).
        output: Vec<u8>,
    },
    /// Reverted with revert data; changes are dropped.
    Revert {
        /// The revert data.
        output: Vec<u8>,
    },
    /// Halted (out of gas, invalid opcode, …); changes are dropped.
    Halt {
        /// Why, for people.
        reason: String,
    },
}

/// State written by a successful execution, as final values. It may grow:
/// start from `default()` and set fields.
///
/// Nothing here removes an account: the forks a chain can run (Cancun on)
/// delete only a contract created in the same transaction, which an engine
/// simply leaves out; SELFDESTRUCT of an older contract only moves its
/// balance, reported in `balances`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContractChanges {
    /// New balances (value transfers, never the fee: core settles it), at
    /// most one per address. Core refuses, as a failed execution, an answer
    /// that names an address twice, creates or destroys value, or leaves
    /// the caller unable to pay for the gas used.
    pub balances: Vec<(Address, Balance)>,
    /// Code deployed.
    pub code: Vec<(Address, Vec<u8>)>,
    /// Storage slots written.
    pub storage: Vec<(Address, [u8; 32], [u8; 32])>,
    /// New EVM nonces of contract accounts (created, or creating others).
    /// Core keeps client nonces itself and refuses, as a failed execution,
    /// a nonce for an account that holds no code after the call.
    pub nonces: Vec<(Address, u64)>,
    /// Logs emitted, in emission order.
    pub logs: Vec<Log>,
}

/// An engine's answer. It will grow (logs, refunds): build it with
/// [`ContractOutcome::success`], [`ContractOutcome::revert`] or
/// [`ContractOutcome::halt`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContractOutcome {
    /// How it ended.
    pub result: ContractResult,
    /// Gas not used, at most the limit, after refunds; the sender is
    /// charged `limit - gas_left`.
    pub gas_left: u64,
    /// What to write on success; ignored otherwise.
    pub changes: ContractChanges,
}

impl ContractOutcome {
    /// Finished with `output`, leaving `gas_left`, writing `changes`.
    pub fn success(output: Vec<u8>, gas_left: u64, changes: ContractChanges) -> Self {
        ContractOutcome {
            result: ContractResult::Success { output },
            gas_left,
            changes,
        }
    }

    /// Reverted with `output`, leaving `gas_left`; nothing is written.
    pub fn revert(output: Vec<u8>, gas_left: u64) -> Self {
        ContractOutcome {
            result: ContractResult::Revert { output },
            gas_left,
            changes: ContractChanges::default(),
        }
    }

    /// Halted for `reason`, leaving `gas_left`; nothing is written.
    pub fn halt(reason: impl Into<String>, gas_left: u64) -> Self {
        ContractOutcome {
            result: ContractResult::Halt {
                reason: reason.into(),
            },
            gas_left,
            changes: ContractChanges::default(),
        }
    }
}

/// Read access to the state as of the transaction being executed.
pub trait StateView {
    /// An account's balance.
    fn balance(&self, address: &Address) -> Result<Balance, CoreError>;
    /// An account's nonce.
    fn nonce(&self, address: &Address) -> Result<u64, CoreError>;
    /// Whether an account holds code.
    fn kind(&self, address: &Address) -> Result<AccountKind, CoreError>;
    /// A contract's code.
    fn code(&self, address: &Address) -> Result<Option<Vec<u8>>, CoreError>;
    /// A storage slot.
    fn storage(&self, address: &Address, slot: &[u8; 32]) -> Result<[u8; 32], CoreError>;
    /// The hash of the stored block at `depth` (`None` past the tip).
    fn block_hash(&self, depth: u64) -> Result<Option<Hash>, CoreError>;
}

/// A smart-contract engine.
pub trait ContractEngine {
    /// Runs `call` against `state`. An `Err` is a failure of the node (its
    /// storage), never of the contract: contract failures are outcomes.
    fn execute(
        &mut self,
        env: &BlockEnv,
        call: &ContractCall<'_>,
        state: &dyn StateView,
    ) -> Result<ContractOutcome, CoreError>;

    /// The gas a contract transaction costs before it runs (base cost,
    /// call data, creation and init code), which its fee must cover to be
    /// admitted; `None` for an engine that runs no code (no limit then).
    fn intrinsic_gas(&self, _settings: &ChainSettings, _create: bool, _data: &[u8]) -> Option<u64> {
        None
    }

    /// The reason revert data gives, for people (Solidity's `Error(string)`
    /// and `Panic(uint256)`), if the engine knows the encoding.
    fn revert_reason(&self, _data: &[u8]) -> Option<String> {
        None
    }
}

impl<E: ContractEngine + ?Sized> ContractEngine for &mut E {
    fn execute(
        &mut self,
        env: &BlockEnv,
        call: &ContractCall<'_>,
        state: &dyn StateView,
    ) -> Result<ContractOutcome, CoreError> {
        (**self).execute(env, call, state)
    }

    fn intrinsic_gas(&self, settings: &ChainSettings, create: bool, data: &[u8]) -> Option<u64> {
        (**self).intrinsic_gas(settings, create, data)
    }

    fn revert_reason(&self, data: &[u8]) -> Option<String> {
        (**self).revert_reason(data)
    }
}

/// The engine of a node without smart contracts: every creation or call
/// halts with a message saying so, uses no gas and changes nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoContracts;

impl NoContracts {
    /// The halt reason it gives.
    pub const REASON: &'static str = "contracts are not enabled on this node";
}

impl ContractEngine for NoContracts {
    fn execute(
        &mut self,
        _env: &BlockEnv,
        call: &ContractCall<'_>,
        _state: &dyn StateView,
    ) -> Result<ContractOutcome, CoreError> {
        Ok(ContractOutcome::halt(NoContracts::REASON, call.gas_limit))
    }
}
