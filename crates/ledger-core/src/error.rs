//! The one error type of `ledger-core`.

use crate::primitives::{Address, Hash};

/// How long a piece of offending input may be before it is shortened in an
/// error message, so a megabyte of garbage never becomes a megabyte of log.
const MAX_SHOWN: usize = 80;

/// Shortens `value` for an error message, keeping its start.
pub(crate) fn shown(value: &str) -> String {
    if value.len() <= MAX_SHOWN {
        return value.to_owned();
    }
    let mut end = MAX_SHOWN;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &value[..end], value.len())
}

/// Everything that can go wrong in `ledger-core`.
///
/// Messages are lowercase, carry the offending value (shortened when long),
/// and never contain secret key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A decimal amount, balance or fee is not canonical or out of range.
    #[error("invalid decimal {value:?}: {reason}")]
    InvalidDecimal {
        /// The text as given (shortened when long).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An address is not base58 or does not decode to 20 bytes.
    #[error("invalid address {value:?}: {reason}")]
    InvalidAddress {
        /// The text as given (shortened when long).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A hash is not base64 of 32 bytes.
    #[error("invalid hash {value:?}: {reason}")]
    InvalidHash {
        /// The text as given (shortened when long).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Bytes are not canonical standard base64 with padding.
    #[error("invalid base64 {value:?}: {reason}")]
    InvalidBase64 {
        /// The text as given (shortened when long).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A wire field of a transaction (or view call) is malformed.
    #[error("field `{field}`: {source}")]
    Field {
        /// The wire name of the field.
        field: &'static str,
        /// What is wrong with it.
        #[source]
        source: Box<CoreError>,
    },
    /// A signature is not 65 bytes, its recovery id is above 3, or it does
    /// not recover to the claimed sender.
    #[error("bad signature for transaction {hash}: {reason}")]
    BadSignature {
        /// The transaction (or view call) hash.
        hash: Hash,
        /// Why recovery failed or which address it recovered to.
        reason: String,
    },
    /// A secret key is not 64 hex characters of a valid secp256k1 scalar.
    /// The message never contains the key.
    #[error("invalid secret key: {reason}")]
    InvalidSecretKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key file could not be read or written.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The file's path.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The genesis document is malformed.
    #[error("invalid genesis: {reason}")]
    InvalidGenesis {
        /// What is wrong with it.
        reason: String,
    },
    /// A block does not fit on its parent or breaks a block rule.
    #[error("invalid block {hash} at depth {depth}: {reason}")]
    InvalidBlock {
        /// The offending block's hash.
        hash: Hash,
        /// Its claimed depth.
        depth: u64,
        /// The rule it breaks.
        reason: String,
    },
    /// A store holds another chain than the configured genesis starts.
    #[error(
        "the store holds the chain of genesis {stored}, not of the configured genesis {configured}"
    )]
    GenesisMismatch {
        /// Genesis hash found in the store.
        stored: Hash,
        /// Genesis hash of the configuration.
        configured: Hash,
    },
    /// A view call's target holds no contract.
    #[error("no contract at {address}")]
    NotAContract {
        /// The target.
        address: Address,
    },
    /// The mempool holds its configured maximum of pending transactions.
    #[error("mempool is full: {max} transactions are pending, try again after the next block")]
    MempoolFull {
        /// The configured maximum.
        max: usize,
    },
    /// The transactions pending in the mempool hold its configured maximum
    /// of bytes (their payloads, mostly).
    #[error("mempool is full: pending transactions hold {max_bytes} bytes, the most allowed; try again after the next block")]
    MempoolBytesFull {
        /// The configured maximum.
        max_bytes: usize,
    },
    /// An arithmetic overflow in a place where the rules make it impossible;
    /// seeing it means the stored state is inconsistent.
    #[error("balance overflow crediting {address}")]
    BalanceOverflow {
        /// The account that would have overflowed.
        address: Address,
    },
    /// Stored state contradicts itself or the change being applied to it.
    #[error("inconsistent state: {reason}")]
    Inconsistent {
        /// What contradicts what.
        reason: String,
    },
    /// The storage behind the state failed.
    #[error("storage: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl CoreError {
    /// Wraps `self` as the error of the wire field `field`.
    pub(crate) fn in_field(self, field: &'static str) -> Self {
        CoreError::Field {
            field,
            source: Box::new(self),
        }
    }

    /// Wraps a storage engine's error.
    pub fn storage<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        CoreError::Storage(Box::new(error))
    }
}
