//! The one error type of `ledger-core`.

use crate::primitives::{Address, Balance, Hash};
use crate::settings::{ChainSettings, GenesisSettings};

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
/// Every variant carries the offending values (text shortened when long)
/// and, where there are several ways to be wrong, a typed reason: callers
/// and tests match on variants, never on message text. Messages are
/// lowercase and never contain secret key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A decimal amount, balance or fee is not canonical or out of range.
    #[error("invalid decimal {value:?}: {reason}")]
    InvalidDecimal {
        /// The text as given (shortened when long).
        value: String,
        /// What is wrong with it.
        reason: DecimalError,
    },
    /// An address is not base58 or does not decode to 20 bytes.
    #[error("invalid address {value:?}: {reason}")]
    InvalidAddress {
        /// The text as given (shortened when long).
        value: String,
        /// What is wrong with it.
        reason: EncodingError,
    },
    /// A hash is not base64 of 32 bytes.
    #[error("invalid hash {value:?}: {reason}")]
    InvalidHash {
        /// The text as given (shortened when long).
        value: String,
        /// What is wrong with it.
        reason: EncodingError,
    },
    /// Bytes are not canonical standard base64 with padding.
    #[error("invalid base64 {value:?}: {reason}")]
    InvalidBase64 {
        /// The text as given (shortened when long).
        value: String,
        /// What is wrong with it.
        reason: EncodingError,
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
    /// A signature is not 65 bytes, cannot be recovered, or does not
    /// recover to the claimed sender.
    #[error("bad signature for transaction {hash}: {reason}")]
    BadSignature {
        /// The transaction (or view call) hash.
        hash: Hash,
        /// Why recovery failed or which address it recovered to.
        reason: SignatureError,
    },
    /// A secret key is not 64 hex characters of a valid secp256k1 scalar.
    /// The message never contains the key.
    #[error("invalid secret key: {reason}")]
    InvalidSecretKey {
        /// What is wrong with it.
        reason: SecretKeyError,
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
    /// The genesis document is malformed or breaks a genesis rule.
    #[error("invalid genesis: {reason}")]
    InvalidGenesis {
        /// What is wrong with it.
        reason: GenesisError,
    },
    /// A block does not fit on its parent or breaks a block rule.
    #[error("invalid block {hash} at depth {depth}: {reason}")]
    InvalidBlock {
        /// The offending block's hash (of its bytes, if they do not decode).
        hash: Hash,
        /// Its claimed depth.
        depth: u64,
        /// The rule it breaks.
        reason: BlockError,
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
    /// A store holds a chain with other contract settings than the
    /// configured genesis names.
    #[error(
        "the store's chain runs {} with chain id {} and block gas limit {}; the configured genesis says {}",
        stored.evm_fork, stored.chain_id, stored.block_gas_limit, configured
    )]
    SettingsMismatch {
        /// The settings found in the store.
        stored: ChainSettings,
        /// What the configured genesis names.
        configured: GenesisSettings,
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
    #[error("inconsistent state: {0}")]
    Inconsistent(Inconsistency),
    /// The storage behind the state failed.
    #[error("storage: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Why a decimal text is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecimalError {
    /// No digits at all.
    #[error("empty")]
    Empty,
    /// A leading `+` or `-`.
    #[error("a sign is not allowed")]
    Sign,
    /// A `0` followed by more digits.
    #[error("leading zeros are not allowed")]
    LeadingZero,
    /// Anything but the digits 0-9 (spaces, dots, letters).
    #[error("only the digits 0-9 are allowed")]
    NotDigit,
    /// More than an unsigned integer of `bits` bits holds.
    #[error("out of range for uint{bits}")]
    OutOfRange {
        /// 64 for fees, 256 for amounts and balances.
        bits: u16,
    },
}

/// Why a base58 or base64 text is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// The text is longer than any valid one.
    #[error("{len} characters, at most {max} allowed")]
    TooLong {
        /// Its length.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// The text is not of the one length a valid one has.
    #[error("{len} characters, expected {expected}")]
    TextLength {
        /// Its length.
        len: usize,
        /// The length expected.
        expected: usize,
    },
    /// Not base58 (Bitcoin alphabet).
    #[error("not base58: {0}")]
    Base58(bs58::decode::Error),
    /// Not canonical standard base64 with padding.
    #[error("not canonical base64: {0}")]
    Base64(base64::DecodeError),
    /// Decodes to the wrong number of bytes.
    #[error("decodes to {len} bytes, expected {expected}")]
    ByteLength {
        /// Bytes decoded.
        len: usize,
        /// Bytes expected.
        expected: usize,
    },
}

/// Why a signature does not check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not 65 bytes.
    #[error("signature is {len} bytes, expected 65")]
    Length {
        /// Its length.
        len: usize,
    },
    /// The recovery id (last byte) is above 3.
    #[error("recovery id {id} is above 3")]
    RecoveryId {
        /// The recovery id given.
        id: u8,
    },
    /// `r` or `s` is zero or out of range.
    #[error("malformed r or s: {0}")]
    Malformed(secp256k1::Error),
    /// No public key recovers from it.
    #[error("recovery failed: {0}")]
    Unrecoverable(secp256k1::Error),
    /// It recovers to another address than the one claimed.
    #[error("signed by {recovered}, not by the {role} {claimed}")]
    WrongSigner {
        /// The address it recovers to.
        recovered: Address,
        /// The address claimed.
        claimed: Address,
        /// The role of the claimed address (sender, caller).
        role: &'static str,
    },
}

/// Why a secret key is refused. Never holds the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// Not 64 characters once white space is trimmed.
    #[error("{len} characters, expected 64 hex characters")]
    Length {
        /// Its length.
        len: usize,
    },
    /// A character that is not hexadecimal.
    #[error("not hexadecimal")]
    NotHex,
    /// Zero, or not below the curve order.
    #[error("not a valid secp256k1 scalar (zero or not below the curve order)")]
    OutOfRange,
}

/// Why a genesis document is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    /// The JSON is malformed, misses a member or has one of the wrong type
    /// or value; `path` names where (`.` for the document itself).
    #[error("{path}: {source}")]
    Json {
        /// Where in the document.
        path: String,
        /// What the JSON parser said.
        source: serde_json::Error,
    },
    /// No account is funded.
    #[error("no account is funded; genesis needs at least one allocation")]
    NoAllocation,
    /// The null address is funded.
    #[error("the null address {} cannot be funded", Address::NULL)]
    NullAddressFunded,
    /// The allocations add up past uint256.
    #[error("the allocations add up to more than uint256 can hold")]
    SupplyOverflow,
    /// `block_gas_limit` is 0: no contract transaction could ever run.
    #[error("block_gas_limit is 0; no contract transaction could ever run")]
    ZeroBlockGasLimit,
}

/// The block rule a block breaks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// Its bytes do not decode.
    #[error("undecodable at byte {at}: {problem}")]
    Undecodable {
        /// Where decoding stopped.
        at: usize,
        /// What was wrong there.
        problem: DecodeError,
    },
    /// There is no chain to extend yet.
    #[error("the chain has no genesis yet")]
    NoGenesis,
    /// An empty store takes only a genesis block.
    #[error("the store is empty, so only a genesis block (depth 0) can be committed")]
    NotGenesis,
    /// It is not at the depth after the top block.
    #[error("depth must be {expected}")]
    Depth {
        /// The depth it must have.
        expected: u64,
    },
    /// It does not name the top block as its parent.
    #[error("previous hash {previous} is not the top block {top} at depth {top_depth}")]
    Parent {
        /// The parent it names.
        previous: Hash,
        /// The top block.
        top: Hash,
        /// The top block's depth.
        top_depth: u64,
    },
    /// Its timestamp is before its parent's.
    #[error("timestamp {timestamp} is earlier than the parent's {parent}")]
    Timestamp {
        /// Its timestamp.
        timestamp: u32,
        /// The parent's.
        parent: u32,
    },
    /// It holds no transaction.
    #[error("a block holds at least one transaction")]
    Empty,
    /// It holds more transactions than allowed.
    #[error("{count} transactions, at most {max} allowed")]
    TooManyTransactions {
        /// How many it holds.
        count: usize,
        /// The most allowed.
        max: usize,
    },
    /// One of its transactions fails verification.
    #[error("transaction {index}: {source}")]
    Transaction {
        /// Its position in the block.
        index: usize,
        /// Why it fails.
        source: Box<CoreError>,
    },
    /// One of its transactions is already in the chain or twice in it.
    #[error("transaction {hash} is applied twice")]
    AppliedTwice {
        /// The transaction.
        hash: Hash,
    },
    /// Its contract transactions' fees add up past the block gas limit.
    #[error(
        "its contract transactions' fees add up to {gas}, more than the block gas limit {limit}"
    )]
    GasLimit {
        /// The sum of the fees.
        gas: u64,
        /// The chain's block gas limit.
        limit: u64,
    },
}

/// What is wrong in a block's bytes.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends early.
    #[error("{needed} more bytes expected")]
    Truncated {
        /// Bytes missing.
        needed: usize,
    },
    /// A length does not fit in memory.
    #[error("length {len} is too large")]
    Length {
        /// The length read.
        len: u64,
    },
    /// The transaction count is more than the input can hold.
    #[error("transaction count {count} exceeds the input")]
    Count {
        /// The count read.
        count: u64,
    },
    /// An amount's text is not ASCII.
    #[error("amount is not ASCII")]
    AmountNotAscii,
    /// An amount's text is not a canonical decimal.
    #[error("amount {value:?}: {reason}")]
    Amount {
        /// The text (shortened when long).
        value: String,
        /// What is wrong with it.
        reason: DecimalError,
    },
    /// Bytes follow the last transaction.
    #[error("{count} trailing bytes")]
    Trailing {
        /// How many.
        count: usize,
    },
}

/// How stored state contradicts itself or a change to it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Inconsistency {
    /// The store has no genesis block.
    #[error("the store lost its genesis block")]
    NoGenesis,
    /// A snapshot is installed only into an empty store, and only one
    /// holding a chain.
    #[error("a snapshot goes into an empty store and must hold a chain")]
    NotEmpty,
    /// A debit that execution checked is covered is not.
    #[error("debit of {amount} from {address} exceeds its balance")]
    Debit {
        /// The account.
        address: Address,
        /// The amount.
        amount: Balance,
    },
    /// An account's nonce would pass u64.
    #[error("nonce of {address} overflows")]
    Nonce {
        /// The account.
        address: Address,
    },
    /// Distinct balances add up past uint256, which the supply cannot.
    #[error("balances add up past uint256")]
    Supply,
    /// A block appends to a transaction list at the wrong index.
    #[error(
        "transaction list of {address} has {length} entries, the block appends at {first_index}"
    )]
    ListIndex {
        /// The account.
        address: Address,
        /// Entries stored.
        length: u64,
        /// Where the block appends.
        first_index: u64,
    },
    /// A block lists a transaction on an account that it did not apply.
    #[error("the block lists {hash} on {address} but does not apply it")]
    ListedNotApplied {
        /// The account.
        address: Address,
        /// The listed transaction.
        hash: Hash,
    },
    /// A producer was given transactions and made no block of them.
    #[error("transactions were pending but no block was produced")]
    NoBlockProduced,
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
