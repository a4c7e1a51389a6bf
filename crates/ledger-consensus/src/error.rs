//! What can go wrong reading a validator's files and decoding what peers
//! send, each error carrying the offending values.

use std::path::PathBuf;

/// A validator key file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read the validator key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be written (it may exist already: keys are
    /// never overwritten).
    #[error("cannot write the validator key file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not hold 64 hex digits.
    #[error("the validator key file {path} must hold 64 hex digits; it holds {length} characters that are not")]
    Format {
        /// The file.
        path: PathBuf,
        /// How many characters it holds, trimmed.
        length: usize,
    },
}

/// A validator set that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidatorsError {
    /// The file could not be read.
    #[error("cannot read the validators file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the expected JSON.
    #[error("the validators file is not valid: {source}")]
    Json {
        /// Where and why.
        source: serde_json::Error,
    },
    /// A public key is not 64 hex digits of a valid ed25519 key.
    #[error("validator {index}: public key {key:?} is not 64 hex digits of an ed25519 key")]
    PublicKey {
        /// Its position in the file.
        index: usize,
        /// The text given.
        key: String,
    },
    /// A validator with no voting power.
    #[error("validator {index}: voting power must be at least 1")]
    ZeroPower {
        /// Its position in the file.
        index: usize,
    },
    /// The same key twice.
    #[error("validator {index} repeats the public key of validator {first}")]
    Repeated {
        /// Its position in the file.
        index: usize,
        /// The position of the first with that key.
        first: usize,
    },
    /// No validators at all.
    #[error("the validators file lists no validators")]
    Empty,
    /// The powers add up past what a u64 holds.
    #[error("the voting powers add up to more than {max}", max = u64::MAX)]
    TotalPower,
}

/// Bytes from a peer (or the write-ahead log) that are not a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes end inside a field.
    #[error("{what}: needs {needed} more bytes, {left} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        left: usize,
    },
    /// Bytes after the message.
    #[error("{extra} bytes after the message")]
    Trailing {
        /// How many.
        extra: usize,
    },
    /// A tag byte naming no variant.
    #[error("{what}: unknown tag {tag}")]
    Tag {
        /// The field being read.
        what: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A length past what the message may hold.
    #[error("{what}: length {len} is more than the {max} allowed")]
    Length {
        /// The field being read.
        what: &'static str,
        /// The length found.
        len: u64,
        /// The most allowed.
        max: u64,
    },
    /// Bytes that are not a valid ed25519 public key.
    #[error("not an ed25519 public key")]
    PublicKey,
    /// A block that does not decode.
    #[error("the block does not decode: {0}")]
    Block(ledger_core::CoreError),
    /// A peer id that does not parse.
    #[error("not a peer id")]
    PeerId,
    /// An encoding the codec refuses to write (a message too large for
    /// its length field).
    #[error("{what} is too large to encode: {len} bytes")]
    TooLarge {
        /// What.
        what: &'static str,
        /// Its size.
        len: usize,
    },
}
