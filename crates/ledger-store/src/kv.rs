//! The seam between the ledger's layout and a storage engine: a few
//! ordered tables of byte keys, point reads, bounded range reads, and one
//! atomic, durable write per block. [`Store`](crate::Store) holds the
//! layout and every check; an engine only stores bytes.

use crate::{Engine, EngineError};

/// The kinds of record, each an ordered table of its own. sled keeps them
/// in one tree under a prefix byte (the layout of format 1); fjall gives
/// each its own keyspace, tuned for how it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// `format`, `genesis`, `tip`, `engine`, `settings`.
    Meta,
    /// Depth (u64, big-endian) → block hash.
    BlockIndex,
    /// Block hash → the block's encoding.
    Blocks,
    /// Transaction hash → its record.
    Transactions,
    /// Address → account.
    Accounts,
    /// Address ‖ position (u64, big-endian) → list entry
    /// ([`crate::records::encode_list_entry`]).
    Lists,
    /// Address → contract code.
    Code,
    /// Address ‖ slot → storage value (absent when zero).
    Storage,
    /// Transaction hash → its logs (absent when it emitted none).
    Logs,
    /// Contract address → hash of the transaction that deployed it.
    Creators,
    /// Depth (u64, big-endian) → what a network decided about the block
    /// ([`crate::records::encode_decision`]); empty on a node alone.
    Decisions,
}

impl Table {
    /// Every table, in the order engines lay them out.
    pub(crate) const ALL: [Table; 11] = [
        Table::Meta,
        Table::BlockIndex,
        Table::Blocks,
        Table::Transactions,
        Table::Accounts,
        Table::Lists,
        Table::Code,
        Table::Storage,
        Table::Logs,
        Table::Creators,
        Table::Decisions,
    ];

    /// The table's place in [`Table::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The prefix byte of the table's keys in a single-tree layout.
    pub(crate) fn prefix(self) -> u8 {
        match self {
            Table::Meta => b'm',
            Table::BlockIndex => b'd',
            Table::Blocks => b'k',
            Table::Transactions => b't',
            Table::Accounts => b'a',
            Table::Lists => b'l',
            Table::Code => b'c',
            Table::Storage => b's',
            Table::Logs => b'g',
            Table::Creators => b'r',
            Table::Decisions => b'v',
        }
    }

    /// The table's name where an engine names its parts.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::BlockIndex => "block_index",
            Table::Blocks => "blocks",
            Table::Transactions => "transactions",
            Table::Accounts => "accounts",
            Table::Lists => "lists",
            Table::Code => "code",
            Table::Storage => "storage",
            Table::Logs => "logs",
            Table::Creators => "creators",
            Table::Decisions => "decisions",
        }
    }
}

/// One block's writes, applied all or nothing.
#[derive(Debug, Default)]
pub(crate) struct WriteSet {
    pub(crate) writes: Vec<Write>,
}

/// A key set to a value, or removed.
#[derive(Debug)]
pub(crate) struct Write {
    pub(crate) table: Table,
    pub(crate) key: Vec<u8>,
    /// `None` removes the key.
    pub(crate) value: Option<Vec<u8>>,
}

impl WriteSet {
    pub(crate) fn with_capacity(capacity: usize) -> WriteSet {
        WriteSet {
            writes: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn insert(
        &mut self,
        table: Table,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) {
        self.writes.push(Write {
            table,
            key: key.into(),
            value: Some(value.into()),
        });
    }

    /// Bytes of keys and values it holds.
    pub(crate) fn bytes(&self) -> u64 {
        self.writes
            .iter()
            .map(|write| write.key.len() + write.value.as_ref().map_or(0, Vec::len))
            .sum::<usize>() as u64
    }

    pub(crate) fn remove(&mut self, table: Table, key: impl Into<Vec<u8>>) {
        self.writes.push(Write {
            table,
            key: key.into(),
            value: None,
        });
    }
}

/// A key-value pair read from a table.
pub(crate) type Entry = (Vec<u8>, Vec<u8>);

/// What a storage engine does for the store.
pub(crate) trait Kv: Send + Sync {
    /// Which engine this is.
    fn engine(&self) -> Engine;

    /// The value of `key` in `table`.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError>;

    /// Up to `limit` entries of `table` in key order, from `from` on, while
    /// their key starts with `prefix`.
    fn scan(
        &self,
        table: Table,
        from: &[u8],
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, EngineError>;

    /// Whether no table holds anything.
    fn is_empty(&self) -> Result<bool, EngineError>;

    /// Applies `writes` atomically, and returns once they are durable: after
    /// a crash at any moment either all of them are there or none.
    fn write(&self, writes: WriteSet) -> Result<(), EngineError>;

    /// Makes everything written so far durable (commits already are).
    fn flush(&self) -> Result<(), EngineError>;

    /// Called after a failed [`Kv::write`]: the engine's memory may now
    /// hold part of that write, which must never reach its files through
    /// this handle, not even by the flush engines do when dropped.
    fn abandon(&self);
}
