//! The ledger's chain and state on disk, on sled or fjall.
//!
//! `ledger-store` owns the on-disk layout and its durability: [`Store`]
//! implements `ledger-core`'s [`StateRead`](ledger_core::StateRead) and
//! [`StateCommit`](ledger_core::StateCommit) and writes each block's
//! changes as **one atomic write synced to disk**, so after a crash either
//! all of a block is there or none of it, and a block whose commit returned
//! survives a power loss. It must not depend on an async runtime, a
//! contract engine or a transport; it knows nothing of the rules beyond
//! what core hands it.
//!
//! Two [engines](Engine) hold the bytes: sled (the default) and fjall.
//! A directory records the engine that created it and is refused by the
//! other. What each guarantees, and what its sync call is: ADR 6.
//!
//! Layout (one table per kind of record; integers big-endian). sled keeps
//! every table in one tree with the prefix byte in front of each key;
//! fjall gives each table a keyspace of its own.
//!
//! | table (prefix) | key | value |
//! |---|---|---|
//! | meta (`m`) | `format` | on-disk format version, u32 |
//! | meta (`m`) | `genesis` | genesis block hash |
//! | meta (`m`) | `tip` | top block: depth u64, hash, timestamp u32 |
//! | meta (`m`) | `engine` | the engine's name (absent in sled stores from before there were two) |
//! | block_index (`d`) | depth | block hash |
//! | blocks (`k`) | hash | block, as `Block::encode` (its hash preimage) |
//! | transactions (`t`) | hash | transaction record: block depth u64, index u32, status |
//! | accounts (`a`) | address | account: balance (32), nonce u64, kind u8, list length u64 |
//! | lists (`l`) | address index | the account's `index`-th transaction hash |
//! | code (`c`) | address | contract code |
//! | storage (`s`) | address slot | contract storage value (absent when zero) |
//!
//! Appending to an account's transaction list writes one `lists` key; the
//! list is never rewritten, and a page of it is one range read. A transfer
//! costs about five keys: its record, two accounts and two list entries.

mod engine;
mod error;
mod kv;
pub mod records;
mod store;

pub use engine::{Engine, UnknownEngine};
pub use error::{Damage, EngineError, Incompatibility, StoreError, TornPart};
pub use store::{is_locked, Store, DEFAULT_CACHE_BYTES, DEFAULT_SPACE_RESERVE};

/// The on-disk format this build reads and writes. Bump it on any change of
/// the layout above; a store of another version is refused on open.
pub const FORMAT_VERSION: u32 = 1;
