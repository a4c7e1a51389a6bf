//! The store's errors: every variant names the directory and carries the
//! offending values.

use std::path::PathBuf;

use ledger_core::{CoreError, Hash};

use crate::{Engine, FORMAT_VERSION};

/// What a storage engine reported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// sled failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// fjall failed.
    #[error("fjall: {0:?}")]
    Fjall(#[from] fjall::Error),
    /// The sync of a file to disk failed.
    #[error("sync to disk: {0}")]
    Sync(#[source] std::io::Error),
}

/// Everything that can go wrong with the store. Every variant names the
/// directory, so a node can stop with a message saying where to look.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The storage engine failed (I/O, corruption it detected).
    #[error("store {path}: {source}")]
    Engine {
        /// The data directory.
        path: PathBuf,
        /// The engine's error.
        #[source]
        source: EngineError,
    },
    /// Another open handle, in this process or another, holds the store.
    #[error("store {path} is in use by another process (or another handle of this one)")]
    Locked {
        /// The data directory.
        path: PathBuf,
    },
    /// The directory holds a store of another engine than the one asked for.
    #[error("store {path} is a {found} store, not {requested}; open it with the {found} engine")]
    OtherEngine {
        /// The data directory.
        path: PathBuf,
        /// The engine whose files are there.
        found: Engine,
        /// The engine asked for.
        requested: Engine,
    },
    /// The directory holds something other than a ledger store of this version.
    #[error("store {path}: {found}")]
    Incompatible {
        /// The data directory.
        path: PathBuf,
        /// What was found.
        found: Incompatibility,
    },
    /// A stored value does not decode or contradicts another.
    #[error("store {path} is damaged: {damage}")]
    Damaged {
        /// The data directory.
        path: PathBuf,
        /// What is wrong.
        damage: Damage,
    },
    /// Storing the block would leave less free space on the disk than the
    /// store keeps in reserve ([`Store::with_space_reserve`](crate::Store::with_space_reserve)).
    /// Nothing of the block was written.
    #[error(
        "store {path}: {available} bytes free on its disk, and a block needs {needed} above \
         the reserve of {reserve}; nothing was written, free space and restart"
    )]
    LowSpace {
        /// The data directory.
        path: PathBuf,
        /// Free bytes on its disk.
        available: u64,
        /// Bytes the store keeps free.
        reserve: u64,
        /// Bytes the block would take, counted generously.
        needed: u64,
    },
    /// The write of a block failed earlier; the engine's memory may hold
    /// part of it that its files do not, so the store answers nothing
    /// more until it is reopened.
    #[error(
        "store {path}: the write of block {depth} failed; it answers nothing more until reopened"
    )]
    WriteFailed {
        /// The data directory.
        path: PathBuf,
        /// The depth of the block whose write failed.
        depth: u64,
    },
}

/// What makes a directory not a ledger store this build can open.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Incompatibility {
    /// It holds data but no format version.
    #[error("holds data but no ledger format version; it is not a ledger store")]
    NotALedgerStore,
    /// It is a ledger store of another on-disk format.
    #[error("on-disk format version {found}, this build reads version {FORMAT_VERSION}")]
    Version {
        /// The version found.
        found: u32,
    },
}

/// How a store is damaged: a record that does not decode, or records that
/// contradict each other.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Damage {
    /// A record is not of its size.
    #[error("{record} is {len} bytes, not {expected}")]
    Size {
        /// Which record.
        record: &'static str,
        /// Its length.
        len: usize,
        /// The length it must have.
        expected: usize,
    },
    /// A record is shorter than its fixed part.
    #[error("{record} is {len} bytes, at least {min} expected")]
    TooShort {
        /// Which record.
        record: &'static str,
        /// Its length.
        len: usize,
        /// Its fixed part.
        min: usize,
    },
    /// An account record's kind byte is unknown.
    #[error("account kind {kind} is unknown")]
    AccountKind {
        /// The byte found.
        kind: u8,
    },
    /// A transaction record's status code is unknown.
    #[error("status code {code} is unknown")]
    StatusCode {
        /// The byte found.
        code: u8,
    },
    /// A transaction record's action type is unknown.
    #[error("action type {action} is unknown")]
    ActionType {
        /// The byte found.
        action: u8,
    },
    /// A transaction record's message is not UTF-8.
    #[error("transaction status message is not UTF-8")]
    MessageNotUtf8,
    /// The format version is there but the genesis or the tip is not.
    #[error("format version present but genesis or tip missing")]
    MissingGenesisOrTip,
    /// Block 0 of the index is not the stored genesis.
    #[error("block 0 is not the genesis {genesis}")]
    GenesisNotIndexed {
        /// The stored genesis hash.
        genesis: Hash,
    },
    /// The tip is not in the block index at its depth.
    #[error("the tip {tip} at depth {depth} is not in the block index")]
    TipNotIndexed {
        /// The tip's hash.
        tip: Hash,
        /// Its depth.
        depth: u64,
    },
    /// The tip's block is missing or disagrees with the tip record.
    #[error("the tip block {tip} is missing or disagrees with the tip record")]
    TipBlock {
        /// The tip's hash.
        tip: Hash,
    },
    /// A block is indexed above the tip.
    #[error("block {block} is indexed above the tip at depth {tip_depth}")]
    AboveTip {
        /// The block indexed there.
        block: Hash,
        /// The tip's depth.
        tip_depth: u64,
    },
    /// A stored block does not decode.
    #[error("block {hash} does not decode: {source}")]
    BlockUndecodable {
        /// The key it is stored under.
        hash: Hash,
        /// Why.
        source: Box<CoreError>,
    },
    /// The store records another engine than the one whose files hold it.
    #[error("it records the engine {recorded:?} but is a {engine} store")]
    Engine {
        /// The engine name recorded.
        recorded: String,
        /// The engine reading it.
        engine: Engine,
    },
    /// An account list names a transaction the store does not hold.
    #[error("the list of {address} names {hash}, which is not stored")]
    ListedMissing {
        /// The account.
        address: ledger_core::Address,
        /// The listed transaction.
        hash: ledger_core::Hash,
    },
    /// An account list entry's direction byte is unknown.
    #[error("account list direction {byte} is unknown")]
    Direction {
        /// The byte found.
        byte: u8,
    },
    /// A log record names more topics than a log can have.
    #[error("a stored log has {count} topics, at most 4 allowed")]
    TopicCount {
        /// The count found.
        count: u8,
    },
    /// A record has bytes after its last field.
    #[error("{record} has {extra} bytes after its last field")]
    Trailing {
        /// Which record.
        record: &'static str,
        /// How many bytes are left over.
        extra: usize,
    },
    /// The stored chain settings do not decode (or name a fork this build
    /// does not know).
    #[error("the stored chain settings do not decode")]
    Settings,
    /// A stored block hashes to another hash than its key.
    #[error("block stored under {stored_under} hashes to {hashes_to}")]
    BlockHash {
        /// The key it is stored under.
        stored_under: Hash,
        /// What it hashes to.
        hashes_to: Hash,
    },
    /// The top block is stored but its state is not all there: a block
    /// write that failed part-way and came back torn after a crash. Its
    /// blocks are whole, so `ledger-node export` then `import` rebuilds
    /// the state from them ([`Store::open_for_blocks`](crate::Store::open_for_blocks)).
    #[error(
        "the top block {hash} (depth {depth}) was not written whole: {part}; \
         rebuild the state from the blocks (export, then import)"
    )]
    TornBlock {
        /// Its depth.
        depth: u64,
        /// Its hash.
        hash: Hash,
        /// The first piece found missing.
        part: TornPart,
    },
}

/// What of a torn top block is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TornPart {
    /// One of its transactions has no record of it.
    #[error("its transaction {transaction} has no record of it")]
    Record {
        /// The transaction.
        transaction: Hash,
    },
    /// An account the genesis block credits is not stored.
    #[error("the account {address} it credits is not stored")]
    Account {
        /// The account.
        address: ledger_core::Address,
    },
    /// An account it appends to does not end its list with one of its
    /// transactions (the account or the list entry was not written).
    #[error("the list of {address}, {count} long, does not end in it")]
    ListEnd {
        /// The account.
        address: ledger_core::Address,
        /// The list length its account records.
        count: u64,
    },
    /// An account it appends to has a list entry beyond the length its
    /// account records (the entry was written, the account was not).
    #[error("the list of {address} has an entry beyond its recorded length {count}")]
    ListBeyond {
        /// The account.
        address: ledger_core::Address,
        /// The list length its account records.
        count: u64,
    },
}
