//! [`Store`]: the ledger's layout and checks over whichever engine holds
//! the bytes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use ledger_core::{
    check_extends, history_entries, Account, Address, Block, BlockChanges, ChainSettings, ChainTip,
    CoreError, Direction, Hash, HistoryEntry, Inconsistency, Log, Sealable, Sealed, StateCommit,
    StateRead, TransactionRecord,
};

use crate::engine::{fjall::FjallKv, sled::SledKv};
use crate::kv::{Kv, Table, WriteSet};
use crate::records::{
    decode_account, decode_list_entry, decode_logs, decode_record, decode_tip, encode_account,
    encode_list_entry, encode_logs, encode_record, encode_tip, Fields, ListEntry,
};
use crate::{Damage, Engine, EngineError, Incompatibility, StoreError, FORMAT_VERSION};

const FORMAT: &[u8] = b"format";
const GENESIS: &[u8] = b"genesis";
const TIP: &[u8] = b"tip";
const ENGINE: &[u8] = b"engine";
const SETTINGS: &[u8] = b"settings";

/// The chain and its state on disk.
pub struct Store {
    kv: Box<dyn Kv>,
    path: PathBuf,
    /// Held through a commit's checks and its write, so that two writers
    /// can never both extend the same tip.
    commit: Mutex<()>,
    /// Bytes of keys and values committed since it was opened.
    written: AtomicU64,
}

impl Store {
    /// Opens (creating if needed) the store in `path` on `engine` and
    /// checks it: the engine that wrote it, the format version, and that
    /// its tip, block index and genesis agree. A directory holding another
    /// engine's store, or data that is not a ledger store, is refused.
    pub fn open(path: impl AsRef<Path>, engine: Engine) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(found) = Engine::detect(&path) {
            if found != engine {
                return Err(StoreError::OtherEngine {
                    path,
                    found,
                    requested: engine,
                });
            }
        }
        let kv = open_kv(&path, engine, false)?;
        let store = Store::with_kv(kv, path);
        store.check_on_open()?;
        Ok(store)
    }

    /// A store on `engine` in a new directory under the system's temporary
    /// directory, deleted when the store is dropped: for tests and
    /// experiments. Commits are atomic but not synced to disk.
    pub fn temporary(engine: Engine) -> Result<Store, StoreError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "ledger-store-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let kv = open_kv(&path, engine, true)?;
        Ok(Store::with_kv(kv, path))
    }

    fn with_kv(kv: Box<dyn Kv>, path: PathBuf) -> Store {
        Store {
            kv,
            path,
            commit: Mutex::new(()),
            written: AtomicU64::new(0),
        }
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The engine holding the store.
    pub fn engine(&self) -> Engine {
        self.kv.engine()
    }

    fn engine_error(&self, source: EngineError) -> StoreError {
        engine_error(&self.path, source)
    }

    fn damaged(&self, damage: Damage) -> StoreError {
        StoreError::Damaged {
            path: self.path.clone(),
            damage,
        }
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv.get(table, key).map_err(|e| self.engine_error(e))
    }

    fn check_on_open(&self) -> Result<(), StoreError> {
        let incompatible = |found| StoreError::Incompatible {
            path: self.path.clone(),
            found,
        };
        let Some(format) = self.get(Table::Meta, FORMAT)? else {
            if self.kv.is_empty().map_err(|e| self.engine_error(e))? {
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
        // Stores of format 1 written before the engine was recorded are sled's.
        let recorded = self.get(Table::Meta, ENGINE)?;
        let recorded = recorded
            .as_deref()
            .unwrap_or(Engine::Sled.name().as_bytes());
        if recorded != self.engine().name().as_bytes() {
            return Err(self.damaged(Damage::Engine {
                recorded: String::from_utf8_lossy(recorded).into_owned(),
                engine: self.engine(),
            }));
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
        self.get(Table::Meta, GENESIS)?
            .map(|bytes| self.hash_from(&bytes, "genesis hash"))
            .transpose()
    }

    fn read_tip(&self) -> Result<Option<ChainTip>, StoreError> {
        self.get(Table::Meta, TIP)?
            .map(|bytes| decode_tip(&bytes).map_err(|damage| self.damaged(damage)))
            .transpose()
    }

    fn read_block_hash_at(&self, depth: u64) -> Result<Option<Hash>, StoreError> {
        self.get(Table::BlockIndex, &depth.to_be_bytes())?
            .map(|bytes| self.hash_from(&bytes, "block index entry"))
            .transpose()
    }

    fn read_block(&self, hash: &Hash) -> Result<Option<Sealed<Block>>, StoreError> {
        let Some(bytes) = self.get(Table::Blocks, &hash.0)? else {
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

    /// The record under `key`, decoded; one that does not decode is damage.
    fn decoded<T>(
        &self,
        table: Table,
        key: &[u8],
        decode: fn(&[u8]) -> Result<T, Damage>,
    ) -> Result<Option<T>, CoreError> {
        self.get(table, key)
            .map_err(CoreError::storage)?
            .map(|bytes| decode(&bytes).map_err(|d| CoreError::storage(self.damaged(d))))
            .transpose()
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
        let entries = self
            .kv
            .scan(Table::Accounts, &[], &[], usize::MAX)
            .map_err(|e| CoreError::storage(self.engine_error(e)))?;
        entries
            .into_iter()
            .map(|(key, value)| {
                let address = Fields::new("account key", &key)
                    .exact(20)
                    .and_then(|mut fields| fields.array().map(Address))
                    .map_err(|damage| self.damaged(damage))?;
                Ok((
                    address,
                    decode_account(&value).map_err(|d| self.damaged(d))?,
                ))
            })
            .collect::<Result<_, StoreError>>()
            .map_err(CoreError::storage)
    }

    /// Makes everything durable. Commits already are; this is for a clean
    /// shutdown of an embedding program.
    pub fn flush(&self) -> Result<(), CoreError> {
        self.kv
            .flush()
            .map_err(|e| CoreError::storage(self.engine_error(e)))
    }

    /// Up to `limit` entries of an account's list from position `start`.
    fn list_entries(
        &self,
        address: &Address,
        start: u64,
        limit: usize,
    ) -> Result<Vec<ListEntry>, CoreError> {
        let from = key2(&address.0, &start.to_be_bytes());
        let entries = self
            .kv
            .scan(Table::Lists, &from, &address.0, limit)
            .map_err(|e| CoreError::storage(self.engine_error(e)))?;
        entries
            .iter()
            .zip(start..)
            .map(|((_, value), position)| {
                decode_list_entry(position, value).map_err(|d| CoreError::storage(self.damaged(d)))
            })
            .collect()
    }

    /// A list entry of a store from before history pages, completed from
    /// the transaction's record and block.
    fn legacy_entry(
        &self,
        address: &Address,
        position: u64,
        hash: Hash,
    ) -> Result<HistoryEntry, CoreError> {
        let missing = || {
            CoreError::storage(self.damaged(Damage::ListedMissing {
                address: *address,
                hash,
            }))
        };
        let record = self.transaction(&hash)?.ok_or_else(missing)?;
        let block = self.block_at(record.block_depth)?.ok_or_else(missing)?;
        let tx = usize::try_from(record.index)
            .ok()
            .and_then(|index| block.transactions.get(index))
            .ok_or_else(missing)?;
        Ok(HistoryEntry {
            position,
            hash,
            block_depth: record.block_depth,
            index: record.index,
            direction: Direction::of(address, &tx.from, &tx.to),
        })
    }

    /// The writes of one block, in the layout of this module's tables.
    fn write_set(&self, changes: &BlockChanges) -> Result<WriteSet, CoreError> {
        let block = &changes.block;
        let history = history_entries(changes)?;
        let mut writes = WriteSet::with_capacity(
            8 + changes.transactions.len()
                + changes.accounts.len()
                + history.len()
                + changes.creators.len()
                + changes.code.len()
                + changes.storage.len()
                + changes.logs.len(),
        );
        if block.depth == 0 {
            writes.insert(Table::Meta, FORMAT, FORMAT_VERSION.to_be_bytes());
            writes.insert(Table::Meta, GENESIS, block.hash().0);
            writes.insert(Table::Meta, ENGINE, self.engine().name());
        }
        if let Some(settings) = &changes.settings {
            writes.insert(Table::Meta, SETTINGS, settings.encode());
        }
        writes.insert(Table::Meta, TIP, encode_tip(&changes.tip()));
        writes.insert(Table::BlockIndex, block.depth.to_be_bytes(), block.hash().0);
        writes.insert(Table::Blocks, block.hash().0, block.encode());
        for (hash, record) in &changes.transactions {
            writes.insert(Table::Transactions, hash.0, encode_record(record));
        }
        for (address, account) in &changes.accounts {
            writes.insert(Table::Accounts, address.0, encode_account(account));
        }
        for (address, entry) in history {
            writes.insert(
                Table::Lists,
                key2(&address.0, &entry.position.to_be_bytes()),
                encode_list_entry(&entry),
            );
        }
        for (address, hash) in &changes.creators {
            writes.insert(Table::Creators, address.0, hash.0);
        }
        for (address, code) in &changes.code {
            writes.insert(Table::Code, address.0, code.as_slice());
        }
        for (address, slot, value) in &changes.storage {
            let slot_key = key2(&address.0, slot);
            if *value == [0; 32] {
                writes.remove(Table::Storage, slot_key);
            } else {
                writes.insert(Table::Storage, slot_key, *value);
            }
        }
        for (hash, logs) in &changes.logs {
            writes.insert(Table::Logs, hash.0, encode_logs(logs));
        }
        Ok(writes)
    }
}

/// `engine`'s database in `path`; a `temporary` one is deleted on drop
/// and never synced.
fn open_kv(path: &Path, engine: Engine, temporary: bool) -> Result<Box<dyn Kv>, StoreError> {
    let locked = || StoreError::Locked {
        path: path.to_path_buf(),
    };
    Ok(match engine {
        Engine::Sled => Box::new(
            SledKv::open(path, temporary).map_err(|source| match source {
                // sled says so only in an I/O error's text; ask the lock.
                sled::Error::Io(_) if is_locked(path) => locked(),
                source => engine_error(path, source.into()),
            })?,
        ),
        Engine::Fjall => Box::new(FjallKv::open(path, temporary).map_err(
            |source| match source {
                fjall::Error::Locked => locked(),
                source => engine_error(path, source.into()),
            },
        )?),
    })
}

fn engine_error(path: &Path, source: EngineError) -> StoreError {
    StoreError::Engine {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether an open handle, in this process or another, holds the lock of
/// the store in `path`. Engines let go of it from a background thread a
/// moment after their last handle is dropped.
pub fn is_locked(path: &Path) -> bool {
    let Some(engine) = Engine::detect(path) else {
        return false;
    };
    let Ok(file) = std::fs::File::open(path.join(engine.lock_file())) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

fn key2(first: &[u8], second: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(first.len() + second.len());
    key.extend_from_slice(first);
    key.extend_from_slice(second);
    key
}

impl StateRead for Store {
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
        self.decoded(Table::Transactions, &hash.0, decode_record)
    }

    fn account(&self, address: &Address) -> Result<Option<Account>, CoreError> {
        self.decoded(Table::Accounts, &address.0, decode_account)
    }

    fn account_transactions(
        &self,
        address: &Address,
        start: u64,
        limit: usize,
    ) -> Result<Vec<Hash>, CoreError> {
        Ok(self
            .list_entries(address, start, limit)?
            .into_iter()
            .map(|entry| match entry {
                ListEntry::Full(entry) => entry.hash,
                ListEntry::HashOnly { hash, .. } => hash,
            })
            .collect())
    }

    fn account_history(
        &self,
        address: &Address,
        before: u64,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, CoreError> {
        let start = before.saturating_sub(u64::try_from(limit).unwrap_or(u64::MAX));
        let count = usize::try_from(before - start).unwrap_or(usize::MAX);
        let entries = self.list_entries(address, start, count)?;
        entries
            .into_iter()
            .rev()
            .map(|entry| match entry {
                ListEntry::Full(entry) => Ok(entry),
                ListEntry::HashOnly { position, hash } => {
                    self.legacy_entry(address, position, hash)
                }
            })
            .collect()
    }

    fn creator(&self, address: &Address) -> Result<Option<Hash>, CoreError> {
        self.get(Table::Creators, &address.0)
            .map_err(CoreError::storage)?
            .map(|bytes| self.hash_from(&bytes, "contract creator"))
            .transpose()
            .map_err(CoreError::storage)
    }

    fn code(&self, address: &Address) -> Result<Option<Vec<u8>>, CoreError> {
        self.get(Table::Code, &address.0)
            .map_err(CoreError::storage)
    }

    fn storage(&self, address: &Address, slot: &[u8; 32]) -> Result<[u8; 32], CoreError> {
        let Some(bytes) = self
            .get(Table::Storage, &key2(&address.0, slot))
            .map_err(CoreError::storage)?
        else {
            return Ok([0; 32]);
        };
        Fields::new("storage value", &bytes)
            .exact(32)
            .and_then(|mut fields| fields.array())
            .map_err(|damage| CoreError::storage(self.damaged(damage)))
    }

    fn logs(&self, hash: &Hash) -> Result<Vec<Log>, CoreError> {
        Ok(self
            .decoded(Table::Logs, &hash.0, decode_logs)?
            .unwrap_or_default())
    }

    fn settings(&self) -> Result<Option<ChainSettings>, CoreError> {
        self.decoded(Table::Meta, SETTINGS, |bytes| {
            ChainSettings::decode(bytes).ok_or(Damage::Settings)
        })
    }
}

impl StateCommit for Store {
    /// One atomic write, synced to disk before it returns: when this
    /// returns `Ok`, the whole block is durable; if the process dies
    /// before, none of it is visible after a restart.
    ///
    /// The tip and list checks and the write happen under one lock, so the
    /// single writer is a fact: a second writer waits, then finds the tip
    /// moved and is refused.
    fn commit(&self, changes: &BlockChanges) -> Result<(), CoreError> {
        let _writer = self.commit.lock().unwrap_or_else(PoisonError::into_inner);
        check_extends(self.tip()?, &changes.block)?;
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
        let writes = self.write_set(changes)?;
        let bytes = writes.bytes();
        self.kv
            .write(writes)
            .map_err(|e| CoreError::storage(self.engine_error(e)))?;
        self.written.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use ledger_core::testing::{genesis_for, keys, produce};
    use ledger_core::{ChainConfig, Ledger};

    use super::*;

    /// A store written before list entries held their place reads its
    /// history all the same, from the records and blocks.
    #[test]
    fn a_list_entry_of_hash_alone_reads_back_complete() {
        let keys = keys(3, 8);
        let store = Store::temporary(Engine::Sled).expect("opens");
        let mut ledger =
            Ledger::open(&store, genesis_for(&keys), ChainConfig::default()).expect("opens");
        for size in [2, 3] {
            produce(&mut ledger, &keys, keys[2].address(), size).expect("produces");
        }
        let history = |address: &Address| {
            store
                .account_history(address, u64::MAX, usize::MAX)
                .expect("reads")
        };
        let address = keys
            .iter()
            .map(|key| key.address())
            .max_by_key(|address| history(address).len())
            .expect("keys");
        let full = history(&address);
        assert!(full.len() >= 2, "{full:?}");
        let mut legacy = WriteSet::default();
        for entry in &full {
            legacy.insert(
                Table::Lists,
                key2(&address.0, &entry.position.to_be_bytes()),
                entry.hash.0,
            );
        }
        store.kv.write(legacy).expect("writes");
        assert_eq!(history(&address), full);
    }
}
