//! fjall: an LSM tree, one keyspace per table, so that what is written and
//! read together sits together and each table gets the filters its reads
//! need. A block's writes are one write batch whose journal is `fsync`ed
//! (`PersistMode::SyncAll`) before the commit returns. (ADR 6.)
//!
//! | keyspace | read by | tuning |
//! |---|---|---|
//! | accounts, transactions, code, storage | point reads, many of them for keys that are not there (a new recipient, a transaction never seen) | bloom filters on every level (fjall's default) |
//! | blocks | point reads of keys that exist | values apart from the tree (key-value separation), no filter on the last level |
//! | block_index, meta | point reads of keys that exist | no filter on the last level |
//! | lists | range reads of one account's entries, which sit side by side | no filter on the last level (ranges do not use them) |

use std::path::Path;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, KvSeparationOptions, PersistMode};

use super::Abandonable;
use crate::kv::{Entry, Kv, Table, WriteSet};
use crate::{Engine, EngineError};

/// The file fjall writes its format version to on creation.
pub(crate) const VERSION_FILE: &str = "version";
/// The file fjall locks while a database is open.
pub(crate) const LOCK_FILE: &str = "lock";

/// The most journal an open replays: fjall's minimum, 64 MiB.
const MAX_JOURNALING_SIZE: u64 = 64 << 20;

pub(crate) struct FjallKv {
    /// Persisted when its last handle drops; not once abandoned.
    db: Abandonable<Database>,
    /// One keyspace per table, in the order of [`Table::ALL`].
    tables: Vec<Keyspace>,
}

impl FjallKv {
    /// fjall in `path` with a block cache (data, index and filter blocks)
    /// of `cache_bytes`. fjall's own default, 32 MiB, stops holding the
    /// filters and indexes of a store of a few million transfers: every
    /// point read then loads and checksums them from the files again (a
    /// soak of issue 11 fell from ~10,000 to under 1,000 transfers/s at 8
    /// million), so the store asks for what sled has by default.
    pub(crate) fn open(
        path: &Path,
        temporary: bool,
        cache_bytes: u64,
    ) -> Result<FjallKv, fjall::Error> {
        let db = Database::builder(path)
            .temporary(temporary)
            .cache_size(cache_bytes)
            // Opening replays the journals not yet flushed into tables;
            // fjall's smallest bound keeps that replay short (ADR 6).
            .max_journaling_size(MAX_JOURNALING_SIZE)
            .open()?;
        let tables = Table::ALL
            .iter()
            .map(|&table| db.keyspace(table.name(), || options(table)))
            .collect::<Result<_, _>>()?;
        Ok(FjallKv {
            db: Abandonable::new(db),
            tables,
        })
    }

    fn table(&self, table: Table) -> &Keyspace {
        // `tables` was built from `Table::ALL`, whose order `index` follows.
        &self.tables[table.index()]
    }
}

fn options(table: Table) -> KeyspaceCreateOptions {
    let options = KeyspaceCreateOptions::default();
    match table {
        Table::Accounts
        | Table::Transactions
        | Table::Code
        | Table::Storage
        | Table::Logs
        | Table::Creators => options,
        Table::Blocks => options
            .with_kv_separation(Some(KvSeparationOptions::default()))
            .expect_point_read_hits(true),
        Table::BlockIndex | Table::Meta | Table::Lists | Table::Decisions => {
            options.expect_point_read_hits(true)
        }
    }
}

impl Kv for FjallKv {
    fn engine(&self) -> Engine {
        Engine::Fjall
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.table(table).get(key)?.map(|value| value.to_vec()))
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, EngineError> {
        let mut entries = Vec::new();
        for guard in self.table(table).range(from..).take(limit) {
            let (key, value) = guard.into_inner()?;
            if !key.starts_with(prefix) {
                break;
            }
            entries.push((key.to_vec(), value.to_vec()));
        }
        Ok(entries)
    }

    fn is_empty(&self) -> Result<bool, EngineError> {
        for keyspace in &self.tables {
            if !keyspace.is_empty()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn write(&self, writes: WriteSet) -> Result<(), EngineError> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for write in writes.writes {
            let keyspace = self.table(write.table);
            match write.value {
                Some(value) => batch.insert(keyspace, write.key, value),
                None => batch.remove(keyspace, write.key),
            }
        }
        Ok(batch.commit()?)
    }

    fn flush(&self) -> Result<(), EngineError> {
        Ok(self.db.persist(PersistMode::SyncAll)?)
    }

    fn abandon(&self) {
        self.db.abandon();
    }
}
