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

use std::path::{Path, PathBuf};

use ledger_core::{
    check_extends, Account, AccountKind, ActionType, Address, Balance, Block, BlockChanges,
    ChainTip, CoreError, Hash, Sealable, Sealed, StateCommit, StateRead, StatusCode,
    TransactionRecord, TransactionStatus,
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
    /// The directory holds something other than a ledger store of this version.
    #[error("store {path}: {reason}")]
    Incompatible {
        /// The data directory.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// A stored value does not decode or contradicts another.
    #[error("store {path} is damaged: {reason}")]
    Damaged {
        /// The data directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The chain and its state in a sled database.
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
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
            .map_err(|source| StoreError::Sled {
                path: path.clone(),
                source,
            })?;
        let store = SledStore { db, path };
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
        Ok(SledStore { db, path })
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

    fn damaged(&self, reason: String) -> StoreError {
        StoreError::Damaged {
            path: self.path.clone(),
            reason,
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        self.db.get(key).map_err(|e| self.sled_error(e))
    }

    fn check_on_open(&self) -> Result<(), StoreError> {
        let incompatible = |reason: String| StoreError::Incompatible {
            path: self.path.clone(),
            reason,
        };
        let Some(format) = self.get(FORMAT)? else {
            if self.db.is_empty() {
                return Ok(()); // A new store: the ledger writes genesis.
            }
            return Err(incompatible(
                "holds data but no ledger format version; it is not a ledger store".into(),
            ));
        };
        let version = <[u8; 4]>::try_from(format.as_ref())
            .map(u32::from_be_bytes)
            .map_err(|_| self.damaged("format version is not 4 bytes".into()))?;
        if version != FORMAT_VERSION {
            return Err(incompatible(format!(
                "on-disk format version {version}, this build reads version {FORMAT_VERSION}"
            )));
        }
        let (Some(genesis), Some(tip)) = (self.read_genesis()?, self.read_tip()?) else {
            return Err(self.damaged("format version present but genesis or tip missing".into()));
        };
        if self.read_block_hash_at(0)? != Some(genesis) {
            return Err(self.damaged(format!("block 0 is not the genesis {genesis}")));
        }
        if self.read_block_hash_at(tip.depth)? != Some(tip.hash) {
            return Err(self.damaged(format!(
                "the tip {} at depth {} is not in the block index",
                tip.hash, tip.depth
            )));
        }
        match self.read_block(&tip.hash)? {
            Some(block) if block.depth == tip.depth && block.timestamp == tip.timestamp => {}
            _ => {
                return Err(self.damaged(format!(
                    "the tip block {} is missing or disagrees with the tip record",
                    tip.hash
                )))
            }
        }
        if let Some(next) = self.read_block_hash_at(tip.depth.saturating_add(1))? {
            return Err(self.damaged(format!(
                "block {next} is indexed above the tip at depth {}",
                tip.depth
            )));
        }
        Ok(())
    }

    fn read_genesis(&self) -> Result<Option<Hash>, StoreError> {
        self.get(GENESIS)?
            .map(|bytes| self.hash_from(&bytes, "genesis hash"))
            .transpose()
    }

    fn read_tip(&self) -> Result<Option<ChainTip>, StoreError> {
        let Some(bytes) = self.get(TIP)? else {
            return Ok(None);
        };
        let bytes: [u8; 44] = bytes
            .as_ref()
            .try_into()
            .map_err(|_| self.damaged(format!("tip record is {} bytes, not 44", bytes.len())))?;
        Ok(Some(ChainTip {
            depth: u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes")),
            hash: Hash(bytes[8..40].try_into().expect("32 bytes")),
            timestamp: u32::from_be_bytes(bytes[40..].try_into().expect("4 bytes")),
        }))
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
            .map_err(|e| self.damaged(format!("block {hash} does not decode: {e}")))?
            .seal();
        if block.hash() != *hash {
            return Err(self.damaged(format!(
                "block stored under {hash} hashes to {}",
                block.hash()
            )));
        }
        Ok(Some(block))
    }

    fn hash_from(&self, bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
        bytes
            .try_into()
            .map(Hash)
            .map_err(|_| self.damaged(format!("{what} is {} bytes, not 32", bytes.len())))
    }

    /// Every account in the store, in address order: for audits and tests
    /// (the supply invariant), not for a hot path.
    pub fn accounts(&self) -> Result<Vec<(Address, Account)>, CoreError> {
        self.db
            .scan_prefix([b'a'])
            .map(|entry| {
                let (k, v) = entry.map_err(|e| self.sled_error(e))?;
                let address = k[1..]
                    .try_into()
                    .map(Address)
                    .map_err(|_| self.damaged(format!("account key of {} bytes", k.len())))?;
                Ok((address, decode_account(&v).map_err(|r| self.damaged(r))?))
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

fn encode_account(account: &Account) -> [u8; 49] {
    let mut bytes = [0u8; 49];
    bytes[..32].copy_from_slice(&account.balance.to_be_bytes());
    bytes[32..40].copy_from_slice(&account.nonce.to_be_bytes());
    bytes[40] = match account.kind {
        AccountKind::Client => 0,
        AccountKind::Contract => 1,
    };
    bytes[41..].copy_from_slice(&account.transaction_count.to_be_bytes());
    bytes
}

fn decode_account(bytes: &[u8]) -> Result<Account, String> {
    let bytes: &[u8; 49] = bytes
        .try_into()
        .map_err(|_| format!("account record is {} bytes, not 49", bytes.len()))?;
    let kind = match bytes[40] {
        0 => AccountKind::Client,
        1 => AccountKind::Contract,
        other => return Err(format!("account kind {other} is unknown")),
    };
    Ok(Account {
        balance: Balance::from_be_bytes(bytes[..32].try_into().expect("32 bytes")),
        nonce: u64::from_be_bytes(bytes[32..40].try_into().expect("8 bytes")),
        kind,
        transaction_count: u64::from_be_bytes(bytes[41..].try_into().expect("8 bytes")),
    })
}

fn encode_record(record: &TransactionRecord) -> Vec<u8> {
    let status = &record.status;
    let mut bytes = Vec::with_capacity(22 + status.message.len());
    bytes.extend_from_slice(&record.block_depth.to_be_bytes());
    bytes.extend_from_slice(&record.index.to_be_bytes());
    bytes.push(status.status_code as u8);
    bytes.push(status.action_type as u8);
    bytes.extend_from_slice(&status.fee_left.to_be_bytes());
    bytes.extend_from_slice(status.message.as_bytes());
    bytes
}

fn decode_record(bytes: &[u8]) -> Result<TransactionRecord, String> {
    if bytes.len() < 22 {
        return Err(format!(
            "transaction record is {} bytes, at least 22 expected",
            bytes.len()
        ));
    }
    let status_code = StatusCode::from_u8(bytes[12])
        .ok_or_else(|| format!("status code {} is unknown", bytes[12]))?;
    let action_type = ActionType::from_u8(bytes[13])
        .ok_or_else(|| format!("action type {} is unknown", bytes[13]))?;
    let message = std::str::from_utf8(&bytes[22..])
        .map_err(|_| "transaction status message is not UTF-8".to_owned())?;
    Ok(TransactionRecord {
        block_depth: u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes")),
        index: u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes")),
        status: TransactionStatus {
            status_code,
            action_type,
            fee_left: u64::from_be_bytes(bytes[14..22].try_into().expect("8 bytes")),
            message: message.to_owned(),
        },
    })
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
            .map(|bytes| decode_record(&bytes).map_err(|r| CoreError::storage(self.damaged(r))))
            .transpose()
    }

    fn account(&self, address: &Address) -> Result<Option<Account>, CoreError> {
        let bytes = self
            .get(&key(b'a', &address.0))
            .map_err(CoreError::storage)?;
        bytes
            .map(|bytes| decode_account(&bytes).map_err(|r| CoreError::storage(self.damaged(r))))
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
        bytes.as_ref().try_into().map_err(|_| {
            CoreError::storage(self.damaged(format!("storage value of {} bytes", bytes.len())))
        })
    }
}

impl StateCommit for SledStore {
    /// One atomic batch, then one flush: when this returns `Ok`, the whole
    /// block is durable; if the process dies before, none of it is visible
    /// after a restart.
    fn commit(&self, changes: &BlockChanges) -> Result<(), CoreError> {
        let block = &changes.block;
        check_extends(self.tip()?, block)?;
        let mut batch = sled::Batch::default();
        if block.depth == 0 {
            batch.insert(FORMAT, &FORMAT_VERSION.to_be_bytes());
            batch.insert(GENESIS, &block.hash().0);
        }
        let tip = changes.tip();
        let mut tip_bytes = [0u8; 44];
        tip_bytes[..8].copy_from_slice(&tip.depth.to_be_bytes());
        tip_bytes[8..40].copy_from_slice(&tip.hash.0);
        tip_bytes[40..].copy_from_slice(&tip.timestamp.to_be_bytes());
        batch.insert(TIP, &tip_bytes[..]);
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
