//! The ledger as one validator of several, on Malachite (Tendermint BFT).
//!
//! This crate holds what the ledger must define for Malachite to run it:
//! the [`LedgerContext`] (heights are block depths; the value decided is a
//! block with the commitment to the state after it), what validators sign
//! and with which keys ([`signing`]), how every consensus, sync and
//! write-ahead-log message is encoded ([`LedgerCodec`]), and the validator
//! set ([`ValidatorsFile`]). How it fits into the node is
//! `docs/consensus.md`.
//!
//! Malachite is alpha and changes between releases; its crates are pinned
//! to one exact version.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::print_stdout))]

pub mod app;
mod certificate;
pub mod codec;
mod context;
mod error;
pub mod network;
pub mod signing;
#[cfg(feature = "testing")]
pub mod testing;
mod validators;

pub use app::{App, AppConfig, AppError};
pub use certificate::{verify_decision, CertificateError};
pub use codec::LedgerCodec;
pub use context::{
    Height, LedgerContext, LedgerValue, Proposal, ProposalPart, Validator, ValidatorAddress,
    ValidatorSet, ValueId, Vote,
};
pub use error::{CodecError, KeyFileError, ValidatorsError};
pub use network::{start_node, NetworkConfig, Role, RunningValidator, StartError};
pub use signing::{SignatureVerifier, ValidatorKey};
pub use validators::{loopback_addresses, parse_public_key, ValidatorEntry, ValidatorsFile};

/// The Malachite crates this one is built on, re-exported so users name
/// the same versions.
pub mod malachite {
    pub use malachitebft_app_channel as app_channel;
    pub use malachitebft_core_types as core_types;
    pub use malachitebft_signing as signing;
    pub use malachitebft_signing_ed25519 as ed25519;
    pub use malachitebft_sync as sync;
}
