//! The ledger's chain and state on disk, in sled.
//!
//! `ledger-store` owns the on-disk layout and its durability: it implements
//! `ledger-core`'s [`StateRead`] and [`StateCommit`] on one sled tree, and
//! writes each block's changes as **one atomic batch followed by one
//! flush**, so after a crash either all of a block is there or none of it.
//! It must not depend on an async runtime, a contract engine or a
//! transport; it knows nothing of the rules beyond what core hands it.
//!
//! Layout (one tree, one prefix byte per kind of key; integers big-endian):
//!
//! | key | value |
//! |---|---|
//! | `m` `format` | on-disk format version, u32 |
//! | `m` `genesis` | genesis block hash |
//! | `m` `tip` | top block: depth u64, hash, timestamp u32 |
//! | `d` depth | block hash |
//! | `k` hash | block, as `Block::encode` (its hash preimage) |
//! | `t` hash | transaction record: block depth u64, index u32, status |
//! | `a` address | account: balance (32), nonce u64, kind u8, list length u64 |
//! | `l` address index | the account's `index`-th transaction hash |
//! | `c` address | contract code |
//! | `s` address slot | contract storage value (absent when zero) |
//!
//! Appending to an account's transaction list writes one `l` key; the list
//! is never rewritten. A transfer costs about five keys: its record, two
//! accounts and two list entries.

pub mod records;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ledger_core::{
    check_extends, Account, Address, Block, BlockChanges, ChainTip, CoreError, Hash, Inconsistency,
    Sealable, Sealed, StateCommit, StateRead, TransactionRecord,
};

use records::{
    decode_account, decode_record, decode_tip, encode_account, encode_record, encode_tip, Fields,
};

/// The on-disk format this build reads and writes. Bump it on any change of
/// the layout above; a store of another version is refused on open.
pub const FORMAT_VERSION: u32 = 1;

const FORMAT: &[u8] = b"mformat";
const GENESIS: &[u8] = b"mgenesis";
const TIP: &[u8] = b"mtip";

/// Everything that can go wrong with the store. Every variant names the
/// directory, so a node can stop with a message saying where to look.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// sled failed (I/O, corruption it detected, the directory locked by
    /// another process).
    #[error("store {path}: {source}")]
    Sled {
        /// The data directory.
        path: PathBuf,
        /// sled's error.
        #[source]
        source: sled::Error,
    },
    /// Another open handle, in this process or another, holds the store.
    #[error("store {path} is in use by another process (or another handle of this one)")]
    Locked {
        /// The data directory.
        path: PathBuf,
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
    /// A stored block hashes to another hash than its key.
    #[error("block stored under {stored_under} hashes to {hashes_to}")]
    BlockHash {
        /// The key it is stored under.
        stored_under: Hash,
        /// What it hashes to.
        hashes_to: Hash,
    },
}

/// The chain and its state in a sled database.
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
    /// Held through a commit's checks and its write, so that two writers
    /// can never both extend the same tip.
    commit: Mutex<()>,
}

impl SledStore {
    /// Opens (creating if needed) the store in `path` and checks it: the
    /// format version, and that its tip, block index and genesis agree.
    /// A directory with data that is not a ledger store is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = sled::Config::new()
            .path(&path)
            .open()
            .map_err(|source| match source {
                // sled says so only in an I/O error's text; ask the lock.
                sled::Error::Io(_) if is_locked(&path) => StoreError::Locked { path: path.clone() },
                source => StoreError::Sled {
                    path: path.clone(),
                    source,
                },
            })?;
        let store = SledStore::with_db(db, path);
        store.check_on_open()?;
        Ok(store)
    }

    /// A store in a new directory under the system's temporary directory,
    /// deleted when the store is dropped: for tests and experiments.
    pub fn temporary() -> Result<SledStore, StoreError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "ledger-store-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let db = sled::Config::new()
            .path(&path)
            .temporary(true)
            .open()
            .map_err(|source| StoreError::Sled {
                path: path.clone(),
                source,
            })?;
        Ok(SledStore::with_db(db, path))
    }

    fn with_db(db: sled::Db, path: PathBuf) -> SledStore {
        SledStore {
            db,
            path,
            commit: Mutex::new(()),
        }
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sled_error(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            path: self.path.clone(),
            source,
        }
    }

    fn damaged(&self, damage: Damage) -> StoreError {
        StoreError::Damaged {
            path: self.path.clone(),
            damage,
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        self.db.get(key).map_err(|e| self.sled_error(e))
    }

    fn check_on_open(&self) -> Result<(), StoreError> {
        let incompatible = |found| StoreError::Incompatible {
            path: self.path.clone(),
            found,
        };
        let Some(format) = self.get(FORMAT)? else {
            if self.db.is_empty() {
                return Ok(()); // A new store: the ledger writes genesis.
            }
            return Err(incompatible(Incompatibility::NotALedgerStore));
        };
        let version = Fields::new("format version", &format)
            .exact(4)
            .and_then(|mut fields| fields.u32())
            .map_err(|damage| self.damaged(damage))?;
        if version != FORMAT_VERSION {
            return Err(incompatible(Incompatibility::Version { found: version }));
        }
        let (Some(genesis), Some(tip)) = (self.read_genesis()?, self.read_tip()?) else {
            return Err(self.damaged(Damage::MissingGenesisOrTip));
        };
        if self.read_block_hash_at(0)? != Some(genesis) {
            return Err(self.damaged(Damage::GenesisNotIndexed { genesis }));
        }
        if self.read_block_hash_at(tip.depth)? != Some(tip.hash) {
            return Err(self.damaged(Damage::TipNotIndexed {
                tip: tip.hash,
                depth: tip.depth,
            }));
        }
        match self.read_block(&tip.hash)? {
            Some(block) if block.depth == tip.depth && block.timestamp == tip.timestamp => {}
            _ => return Err(self.damaged(Damage::TipBlock { tip: tip.hash })),
        }
        if let Some(next) = self.read_block_hash_at(tip.depth.saturating_add(1))? {
            return Err(self.damaged(Damage::AboveTip {
                block: next,
                tip_depth: tip.depth,
            }));
        }
        Ok(())
    }

    fn read_genesis(&self) -> Result<Option<Hash>, StoreError> {
        self.get(GENESIS)?
            .map(|bytes| self.hash_from(&bytes, "genesis hash"))
            .transpose()
    }

    fn read_tip(&self) -> Result<Option<ChainTip>, StoreError> {
        self.get(TIP)?
            .map(|bytes| decode_tip(&bytes).map_err(|damage| self.damaged(damage)))
            .transpose()
    }

    fn read_block_hash_at(&self, depth: u64) -> Result<Option<Hash>, StoreError> {
        self.get(&key(b'd', &depth.to_be_bytes()))?
            .map(|bytes| self.hash_from(&bytes, "block index entry"))
            .transpose()
    }

    fn read_block(&self, hash: &Hash) -> Result<Option<Sealed<Block>>, StoreError> {
        let Some(bytes) = self.get(&key(b'k', &hash.0))? else {
            return Ok(None);
        };
        let block = Block::decode(&bytes)
            .map_err(|error| {
                self.damaged(Damage::BlockUndecodable {
                    hash: *hash,
                    source: Box::new(error),
                })
            })?
            .seal();
        if block.hash() != *hash {
            return Err(self.damaged(Damage::BlockHash {
                stored_under: *hash,
                hashes_to: block.hash(),
            }));
        }
        Ok(Some(block))
    }

    fn hash_from(&self, bytes: &[u8], record: &'static str) -> Result<Hash, StoreError> {
        Fields::new(record, bytes)
            .exact(32)
            .and_then(|mut fields| fields.array().map(Hash))
            .map_err(|damage| self.damaged(damage))
    }

    /// Every account in the store, in address order: for audits and tests
    /// (the supply invariant), not for a hot path.
    pub fn accounts(&self) -> Result<Vec<(Address, Account)>, CoreError> {
        self.db
            .scan_prefix([b'a'])
            .map(|entry| {
                let (k, v) = entry.map_err(|e| self.sled_error(e))?;
                let address = Fields::new("account key", &k[1..])
                    .exact(20)
                    .and_then(|mut fields| fields.array().map(Address))
                    .map_err(|damage| self.damaged(damage))?;
                Ok((address, decode_account(&v).map_err(|d| self.damaged(d))?))
            })
            .collect::<Result<_, StoreError>>()
            .map_err(CoreError::storage)
    }

    /// Flushes everything to disk. Commits already flush; this is for a
    /// clean shutdown of an embedding program.
    pub fn flush(&self) -> Result<(), CoreError> {
        self.db
            .flush()
            .map(drop)
            .map_err(|e| CoreError::storage(self.sled_error(e)))
    }
}

/// Whether an open handle, in this process or another, holds the lock of
/// the store in `path`. sled lets go of it from a background thread a
/// moment after its last handle is dropped.
pub fn is_locked(path: &Path) -> bool {
    use fs2::FileExt;
    let Ok(file) = std::fs::File::open(path.join("db")) else {
        return false;
    };
    match file.try_lock_exclusive() {
        Ok(()) => {
            let _ = FileExt::unlock(&file);
            false
        }
        Err(_) => true,
    }
}

fn key(prefix: u8, parts: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + parts.len());
    key.push(prefix);
    key.extend_from_slice(parts);
    key
}

fn key2(prefix: u8, first: &[u8], second: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + first.len() + second.len());
    key.push(prefix);
    key.extend_from_slice(first);
    key.extend_from_slice(second);
    key
}

impl StateRead for SledStore {
    fn genesis_hash(&self) -> Result<Option<Hash>, CoreError> {
        self.read_genesis().map_err(CoreError::storage)
    }

    fn tip(&self) -> Result<Option<ChainTip>, CoreError> {
        self.read_tip().map_err(CoreError::storage)
    }

    fn block_hash_at(&self, depth: u64) -> Result<Option<Hash>, CoreError> {
        self.read_block_hash_at(depth).map_err(CoreError::storage)
    }

    fn block(&self, hash: &Hash) -> Result<Option<Sealed<Block>>, CoreError> {
        self.read_block(hash).map_err(CoreError::storage)
    }

    fn transaction(&self, hash: &Hash) -> Result<Option<TransactionRecord>, CoreError> {
        let bytes = self.get(&key(b't', &hash.0)).map_err(CoreError::storage)?;
        bytes
            .map(|bytes| decode_record(&bytes).map_err(|d| CoreError::storage(self.damaged(d))))
            .transpose()
    }

    fn account(&self, address: &Address) -> Result<Option<Account>, CoreError> {
        let bytes = self
            .get(&key(b'a', &address.0))
            .map_err(CoreError::storage)?;
        bytes
            .map(|bytes| decode_account(&bytes).map_err(|d| CoreError::storage(self.damaged(d))))
            .transpose()
    }

    fn account_transactions(
        &self,
        address: &Address,
        start: u64,
        limit: usize,
    ) -> Result<Vec<Hash>, CoreError> {
        let from = key2(b'l', &address.0, &start.to_be_bytes());
        let prefix = key(b'l', &address.0);
        self.db
            .range(from..)
            .take_while(|entry| entry.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .take(limit)
            .map(|entry| {
                let (_, value) = entry.map_err(|e| self.sled_error(e))?;
                self.hash_from(&value, "account list entry")
            })
            .collect::<Result<_, _>>()
            .map_err(CoreError::storage)
    }

    fn code(&self, address: &Address) -> Result<Option<Vec<u8>>, CoreError> {
        let bytes = self
            .get(&key(b'c', &address.0))
            .map_err(CoreError::storage)?;
        Ok(bytes.map(|bytes| bytes.to_vec()))
    }

    fn storage(&self, address: &Address, slot: &[u8; 32]) -> Result<[u8; 32], CoreError> {
        let Some(bytes) = self
            .get(&key2(b's', &address.0, slot))
            .map_err(CoreError::storage)?
        else {
            return Ok([0; 32]);
        };
        Fields::new("storage value", &bytes)
            .exact(32)
            .and_then(|mut fields| fields.array())
            .map_err(|damage| CoreError::storage(self.damaged(damage)))
    }
}

impl StateCommit for SledStore {
    /// One atomic batch, then one flush: when this returns `Ok`, the whole
    /// block is durable; if the process dies before, none of it is visible
    /// after a restart.
    ///
    /// The tip and list checks and the write happen under one lock, so the
    /// single writer is a fact: a second writer waits, then finds the tip
    /// moved and is refused.
    fn commit(&self, changes: &BlockChanges) -> Result<(), CoreError> {
        let _writer = self.commit.lock().unwrap_or_else(PoisonError::into_inner);
        let block = &changes.block;
        check_extends(self.tip()?, block)?;
        for append in &changes.lists {
            let length = self
                .account(&append.address)?
                .map_or(0, |a| a.transaction_count);
            if append.first_index != length {
                return Err(CoreError::Inconsistent(Inconsistency::ListIndex {
                    address: append.address,
                    length,
                    first_index: append.first_index,
                }));
            }
        }
        let mut batch = sled::Batch::default();
        if block.depth == 0 {
            batch.insert(FORMAT, &FORMAT_VERSION.to_be_bytes());
            batch.insert(GENESIS, &block.hash().0);
        }
        batch.insert(TIP, &encode_tip(&changes.tip())[..]);
        batch.insert(key(b'd', &block.depth.to_be_bytes()), &block.hash().0);
        batch.insert(key(b'k', &block.hash().0), block.encode());
        for (hash, record) in &changes.transactions {
            batch.insert(key(b't', &hash.0), encode_record(record));
        }
        for (address, account) in &changes.accounts {
            batch.insert(key(b'a', &address.0), &encode_account(account)[..]);
        }
        for append in &changes.lists {
            for (offset, hash) in (append.first_index..).zip(&append.hashes) {
                batch.insert(
                    key2(b'l', &append.address.0, &offset.to_be_bytes()),
                    &hash.0,
                );
            }
        }
        for (address, code) in &changes.code {
            batch.insert(key(b'c', &address.0), code.as_slice());
        }
        for (address, slot, value) in &changes.storage {
            let slot_key = key2(b's', &address.0, slot);
            if *value == [0; 32] {
                batch.remove(slot_key);
            } else {
                batch.insert(slot_key, value);
            }
        }
        self.db
            .apply_batch(batch)
            .and_then(|()| self.db.flush())
            .map(drop)
            .map_err(|e| CoreError::storage(self.sled_error(e)))
    }
}
