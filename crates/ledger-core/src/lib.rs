//! The pure core of the ledger: what a transaction, a block and the state
//! are, and how they change.
//!
//! `ledger-core` owns the primitives and their wire texts ([`Address`],
//! [`Hash`], [`Balance`]), transactions with their hash, signing and signer
//! recovery ([`Transaction`], [`VerifiedTransaction`]), blocks and their hash
//! ([`Block`], [`Sealed`]), genesis ([`Genesis`]), the storage traits the
//! state lives behind ([`StateRead`], [`StateCommit`], with [`MemoryStore`]),
//! mempool admission ([`Mempool`]), execution ([`execute_block`]), block
//! production and validation ([`produce_block`], [`validate_block`]), and
//! the seam to a contract engine ([`ContractEngine`]). [`Ledger`] ties them
//! together for programs that embed a chain.
//!
//! It is synchronous and does no I/O beyond reading and writing key files:
//! it must not depend on an async runtime, a storage engine, sockets or a
//! clock. Time is always passed in. Storage engines (`ledger-store`),
//! contract engines (`ledger-vm`) and transports (`ledger-ws`) depend on
//! it, never the other way round.
//!
//! The rules implemented here are `ledger-rules.md`; every encoding is
//! pinned by the conformance vectors under `tests/vectors/`.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::print_stdout))]

mod audit;
mod block;
mod chain;
mod commitment;
mod crypto;
mod error;
mod execution;
mod genesis;
mod lattice;
mod mempool;
mod primitives;
mod sealed;
mod settings;
mod snapshot;
mod state;
mod status;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod transaction;
mod vm;

pub use audit::{audit, AuditReport, Divergence};
pub use block::{Block, RawBlock};
pub use chain::{produce_block, validate_block, BlockParams, ChainConfig, Ledger};
pub use commitment::{changes_digest, history_commitment, state_commitment};
pub use crypto::{address_of, sha256, SecretKey, Signature};
pub use error::{
    BlockError, CoreError, DecimalError, DecodeError, EncodingError, GenesisError, Inconsistency,
    SecretKeyError, SignatureError,
};
pub use execution::{
    block_gas, contract_address, estimate_fee, execute_block, execute_genesis, view_call,
    FeeEstimate, FeeRequest, ViewOutcome, VIEW_CALL_GAS,
};
pub use genesis::{Genesis, GenesisValidator, DEV_SECRET_KEY_HEX};
pub use lattice::{StateLattice, LATTICE_BYTES};
pub use mempool::{Admission, Mempool};
pub use primitives::{decode_base64, encode_base64, parse_u64, Address, Balance, Hash, BASE64};
pub use sealed::{Sealable, Sealed};
pub use settings::{ChainSettings, EvmFork, GenesisSettings, UnknownFork};
pub use snapshot::{Snapshot, SnapshotError, StateEntry};
pub use state::{
    check_extends, history_entries, Account, AccountKind, BlockChanges, ChainTip, Decision,
    Direction, HistoryEntry, ListAppend, Log, MemoryStore, StateCommit, StateRead,
    TransactionRecord,
};
pub use status::{ActionType, StatusCode, TransactionStatus};
pub use transaction::{
    signing_digest, RawTransaction, RawViewCall, Transaction, VerifiedTransaction, ViewCall,
};
pub use vm::{
    BlockEnv, CallTarget, ContractCall, ContractChanges, ContractEngine, ContractOutcome,
    ContractResult, NoContracts, StateView,
};

/// Re-exported so embedders name the same uint256 type.
pub use primitive_types::U256;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
