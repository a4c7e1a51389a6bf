//! The storage traits the chain and its state live behind, and an
//! in-memory implementation for tests and embedders.
//!
//! Reads are fine-grained ([`StateRead`]); writes come only as the complete
//! changes of one block ([`StateCommit::commit`]), which an implementation
//! must make visible all at once or not at all.

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::error::{BlockError, CoreError, Inconsistency};
use crate::lattice::StateLattice;
use crate::primitives::{Address, Balance, Hash};
use crate::sealed::Sealed;
use crate::settings::ChainSettings;
use crate::snapshot::{Snapshot, StateEntry};
use crate::status::TransactionStatus;

/// Whether an account holds code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// A key-controlled account.
    #[default]
    Client,
    /// An account with contract code.
    Contract,
}

/// An account's scalar state. Its code, contract storage and transaction
/// list are stored beside it, so a balance change never rewrites them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Account {
    /// Balance.
    pub balance: Balance,
    /// Transactions sent by the account and applied in a block.
    pub nonce: u64,
    /// Client or contract.
    pub kind: AccountKind,
    /// Length of the account's transaction list.
    pub transaction_count: u64,
}

/// Where an applied transaction is, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionRecord {
    /// Depth of its block.
    pub block_depth: u64,
    /// Position in its block.
    pub index: u32,
    /// Its final status.
    pub status: TransactionStatus,
}

/// The tip of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainTip {
    /// Depth of the top block.
    pub depth: u64,
    /// Hash of the top block.
    pub hash: Hash,
    /// Timestamp of the top block (the next block's may not be earlier).
    pub timestamp: u32,
}

/// Transactions appended to one account's list by a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListAppend {
    /// The account.
    pub address: Address,
    /// Position of the first appended hash (the list's old length).
    pub first_index: u64,
    /// The appended hashes, in chain order.
    pub hashes: Vec<Hash>,
}

/// How a transaction touches an account on its list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The account is the receiver (or the contract a creation made).
    In,
    /// The account is the sender.
    Out,
    /// The account sent to itself.
    ToSelf,
}

impl Direction {
    /// How the transaction `from` → `to` touches `account`.
    pub fn of(account: &Address, from: &Address, to: &Address) -> Direction {
        match (account == from, account == to) {
            (true, true) => Direction::ToSelf,
            (true, false) => Direction::Out,
            _ => Direction::In,
        }
    }

    /// Its wire name: `in`, `out` or `self`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::ToSelf => "self",
        }
    }

    /// Its stored byte.
    pub fn to_u8(self) -> u8 {
        match self {
            Direction::In => 0,
            Direction::Out => 1,
            Direction::ToSelf => 2,
        }
    }

    /// From its stored byte.
    pub fn from_u8(byte: u8) -> Option<Direction> {
        [Direction::In, Direction::Out, Direction::ToSelf]
            .into_iter()
            .find(|direction| direction.to_u8() == byte)
    }
}

/// One entry of an account's transaction list, with where its
/// transaction is: what a page of history shows without reading blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Position in the account's list (0 = its first transaction).
    pub position: u64,
    /// The transaction.
    pub hash: Hash,
    /// Depth of its block.
    pub block_depth: u64,
    /// Its position in its block.
    pub index: u32,
    /// How it touches the account.
    pub direction: Direction,
}

/// A log emitted by a contract (Solidity's events).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Log {
    /// The contract that emitted it.
    pub address: Address,
    /// Up to 4 topics.
    pub topics: Vec<[u8; 32]>,
    /// Its data.
    pub data: Vec<u8>,
}

/// Everything one block changes: the unit a store writes atomically.
/// Built by execution only; it will grow (logs), so it is
/// `#[non_exhaustive]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockChanges {
    /// The block.
    pub block: Sealed<Block>,
    /// New state of every account the block touched, in address order.
    pub accounts: Vec<(Address, Account)>,
    /// Appends to account transaction lists, in address order.
    pub lists: Vec<ListAppend>,
    /// A record per transaction of the block, in block order.
    pub transactions: Vec<(Hash, TransactionRecord)>,
    /// Code deployed by the block.
    pub code: Vec<(Address, Vec<u8>)>,
    /// Contract storage slots written by the block (a zero value deletes).
    pub storage: Vec<(Address, [u8; 32], [u8; 32])>,
    /// The logs of each transaction that emitted any, in block order.
    pub logs: Vec<(Hash, Vec<Log>)>,
    /// Each contract the block deployed (top level or by CREATE/CREATE2),
    /// with the transaction that deployed it.
    pub creators: Vec<(Address, Hash)>,
    /// The chain's settings, to store with this block: set for genesis,
    /// and for the first block of a chain created before settings were
    /// stored.
    pub settings: Option<ChainSettings>,
    /// What a network of validators decided about the block, stored with
    /// it; `None` on a node running alone.
    pub decision: Option<Decision>,
}

/// What a network of validators decided about a block, stored in the same
/// atomic write as the block so a restarted validator can prove to its
/// peers, block by block, what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The commitment to the state after the block
    /// ([`crate::state_commitment`] of the two below), which every
    /// validator checked before voting.
    pub state: Hash,
    /// The chain of the blocks' changes up to this block
    /// ([`crate::history_commitment`]).
    pub history: Hash,
    /// The lattice hash of the whole state after the block, which a
    /// snapshot of that state is checked against.
    pub lattice: StateLattice,
    /// The commit certificate (the precommits that decided the block), in
    /// the consensus engine's encoding: the store keeps it opaque.
    pub certificate: Vec<u8>,
}

impl ChainTip {
    /// The tip that `block` is once it is on top.
    pub fn of(block: &Sealed<Block>) -> ChainTip {
        ChainTip {
            depth: block.depth,
            hash: block.hash(),
            timestamp: block.timestamp,
        }
    }
}

impl BlockChanges {
    /// The new tip once these changes are committed.
    pub fn tip(&self) -> ChainTip {
        ChainTip::of(&self.block)
    }
}

/// Reading the chain and its state.
pub trait StateRead {
    /// The genesis block's hash, or `None` for an empty store.
    fn genesis_hash(&self) -> Result<Option<Hash>, CoreError>;
    /// The top block, or `None` for an empty store.
    fn tip(&self) -> Result<Option<ChainTip>, CoreError>;
    /// The hash of the block at `depth`.
    fn block_hash_at(&self, depth: u64) -> Result<Option<Hash>, CoreError>;
    /// The block with hash `hash`.
    fn block(&self, hash: &Hash) -> Result<Option<Sealed<Block>>, CoreError>;
    /// Where a transaction was applied and its final status.
    fn transaction(&self, hash: &Hash) -> Result<Option<TransactionRecord>, CoreError>;
    /// An account's state, or `None` if it was never touched.
    fn account(&self, address: &Address) -> Result<Option<Account>, CoreError>;
    /// Up to `limit` hashes of an account's list, from position `start`.
    fn account_transactions(
        &self,
        address: &Address,
        start: u64,
        limit: usize,
    ) -> Result<Vec<Hash>, CoreError>;
    /// Up to `limit` entries of an account's list before position
    /// `before`, newest first: a page of its history, read by one range
    /// read however long the list is.
    fn account_history(
        &self,
        address: &Address,
        before: u64,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, CoreError>;
    /// The transaction that deployed the contract at `address`.
    fn creator(&self, address: &Address) -> Result<Option<Hash>, CoreError>;
    /// A contract's code.
    fn code(&self, address: &Address) -> Result<Option<Vec<u8>>, CoreError>;
    /// A contract storage slot (zero when never written).
    fn storage(&self, address: &Address, slot: &[u8; 32]) -> Result<[u8; 32], CoreError>;
    /// The logs of an applied transaction (empty when it emitted none).
    fn logs(&self, hash: &Hash) -> Result<Vec<Log>, CoreError>;
    /// The chain's stored settings; `None` for an empty store or a chain
    /// created before they were stored.
    fn settings(&self) -> Result<Option<ChainSettings>, CoreError>;
    /// What the network decided about the block at `depth`; `None` for a
    /// block produced alone (or not stored).
    fn decision(&self, depth: u64) -> Result<Option<Decision>, CoreError>;

    /// The block at `depth`.
    fn block_at(&self, depth: u64) -> Result<Option<Sealed<Block>>, CoreError> {
        match self.block_hash_at(depth)? {
            Some(hash) => self.block(&hash),
            None => Ok(None),
        }
    }

    /// An account's state; a never-seen address is a client with nothing.
    fn account_or_default(&self, address: &Address) -> Result<Account, CoreError> {
        Ok(self.account(address)?.unwrap_or_default())
    }
}

/// Writing a block's changes.
pub trait StateCommit: StateRead {
    /// Applies one block's changes atomically and durably: after it
    /// returns, all of them survive a crash; if it fails or the process dies
    /// during it, none of them are visible. `changes.block` must extend the
    /// current tip (or be genesis on an empty store).
    fn commit(&self, changes: &BlockChanges) -> Result<(), CoreError>;

    /// Every record of the state (not blocks or decisions), in any order:
    /// what a [`Snapshot`] carries. Reads the whole state.
    fn state_entries(&self) -> Result<Vec<StateEntry>, CoreError>;

    /// Writes a verified snapshot into an empty store, all of it at once
    /// (or nothing), so the store then holds its chain as if it had
    /// committed every block. Refused unless the store is empty.
    fn install(&self, snapshot: &Snapshot) -> Result<(), CoreError>;

    /// Bytes handed to storage by commits since the store was opened
    /// (keys and values); an in-memory store writes none.
    fn bytes_written(&self) -> u64;
}

/// The reads of [`StateRead`], each forwarded to `$inner` (an expression
/// of `$this`, the `self` of the impl it is used in).
macro_rules! forward_reads {
    ($this:ident, $inner:expr) => {
        fn genesis_hash(&$this) -> Result<Option<Hash>, CoreError> {
            $inner.genesis_hash()
        }
        fn tip(&$this) -> Result<Option<ChainTip>, CoreError> {
            $inner.tip()
        }
        fn block_hash_at(&$this, depth: u64) -> Result<Option<Hash>, CoreError> {
            $inner.block_hash_at(depth)
        }
        fn block(&$this, hash: &Hash) -> Result<Option<Sealed<Block>>, CoreError> {
            $inner.block(hash)
        }
        fn transaction(&$this, hash: &Hash) -> Result<Option<TransactionRecord>, CoreError> {
            $inner.transaction(hash)
        }
        fn account(&$this, address: &Address) -> Result<Option<Account>, CoreError> {
            $inner.account(address)
        }
        fn account_transactions(
            &$this,
            address: &Address,
            start: u64,
            limit: usize,
        ) -> Result<Vec<Hash>, CoreError> {
            $inner.account_transactions(address, start, limit)
        }
        fn account_history(
            &$this,
            address: &Address,
            before: u64,
            limit: usize,
        ) -> Result<Vec<$crate::HistoryEntry>, CoreError> {
            $inner.account_history(address, before, limit)
        }
        fn creator(&$this, address: &Address) -> Result<Option<Hash>, CoreError> {
            $inner.creator(address)
        }
        fn code(&$this, address: &Address) -> Result<Option<Vec<u8>>, CoreError> {
            $inner.code(address)
        }
        fn storage(&$this, address: &Address, slot: &[u8; 32]) -> Result<[u8; 32], CoreError> {
            $inner.storage(address, slot)
        }
        fn logs(&$this, hash: &Hash) -> Result<Vec<$crate::Log>, CoreError> {
            $inner.logs(hash)
        }
        fn settings(&$this) -> Result<Option<$crate::ChainSettings>, CoreError> {
            $inner.settings()
        }
        fn decision(&$this, depth: u64) -> Result<Option<$crate::Decision>, CoreError> {
            $inner.decision(depth)
        }
    };
}
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub(crate) use forward_reads;

/// Forwards the storage traits through a pointer type, so a store can be
/// shared (`&S`, `Arc<S>`) between a ledger and its readers.
macro_rules! forward_state {
    ($($pointer:ty),*) => {$(
        impl<S: StateRead + ?Sized> StateRead for $pointer {
            forward_reads!(self, (**self));
        }

        impl<S: StateCommit + ?Sized> StateCommit for $pointer {
            fn commit(&self, changes: &BlockChanges) -> Result<(), CoreError> {
                (**self).commit(changes)
            }

            fn bytes_written(&self) -> u64 {
                (**self).bytes_written()
            }

            fn state_entries(&self) -> Result<Vec<StateEntry>, CoreError> {
                (**self).state_entries()
            }

            fn install(&self, snapshot: &Snapshot) -> Result<(), CoreError> {
                (**self).install(snapshot)
            }
        }
    )*};
}

forward_state!(&S, std::sync::Arc<S>);

#[derive(Default)]
struct Memory {
    blocks: Vec<Sealed<Block>>,
    depths: HashMap<Hash, u64>,
    transactions: HashMap<Hash, TransactionRecord>,
    accounts: HashMap<Address, Account>,
    lists: HashMap<Address, Vec<HistoryEntry>>,
    creators: HashMap<Address, Hash>,
    code: HashMap<Address, Vec<u8>>,
    storage: BTreeMap<(Address, [u8; 32]), [u8; 32]>,
    logs: HashMap<Hash, Vec<Log>>,
    settings: Option<ChainSettings>,
    decisions: HashMap<u64, Decision>,
}

/// The chain and its state in memory: for tests, simulations and embedders
/// that keep their own persistence. Nothing survives the process.
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<Memory>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn read<T>(&self, f: impl FnOnce(&Memory) -> T) -> Result<T, CoreError> {
        // A panic elsewhere cannot leave `Memory` half-written: `commit`
        // checks everything before it changes anything.
        Ok(f(&self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)))
    }
}

impl StateRead for MemoryStore {
    fn genesis_hash(&self) -> Result<Option<Hash>, CoreError> {
        self.read(|m| m.blocks.first().map(Sealed::hash))
    }

    fn tip(&self) -> Result<Option<ChainTip>, CoreError> {
        self.read(|m| m.blocks.last().map(ChainTip::of))
    }

    fn block_hash_at(&self, depth: u64) -> Result<Option<Hash>, CoreError> {
        self.read(|m| {
            usize::try_from(depth)
                .ok()
                .and_then(|i| m.blocks.get(i))
                .map(Sealed::hash)
        })
    }

    fn block(&self, hash: &Hash) -> Result<Option<Sealed<Block>>, CoreError> {
        self.read(|m| {
            let depth = usize::try_from(*m.depths.get(hash)?).ok()?;
            m.blocks.get(depth).cloned()
        })
    }

    fn transaction(&self, hash: &Hash) -> Result<Option<TransactionRecord>, CoreError> {
        self.read(|m| m.transactions.get(hash).cloned())
    }

    fn account(&self, address: &Address) -> Result<Option<Account>, CoreError> {
        self.read(|m| m.accounts.get(address).copied())
    }

    fn account_transactions(
        &self,
        address: &Address,
        start: u64,
        limit: usize,
    ) -> Result<Vec<Hash>, CoreError> {
        self.read(|m| {
            let list = m.lists.get(address).map_or(&[][..], Vec::as_slice);
            let start = usize::try_from(start).unwrap_or(usize::MAX).min(list.len());
            list[start..]
                .iter()
                .take(limit)
                .map(|entry| entry.hash)
                .collect()
        })
    }

    fn account_history(
        &self,
        address: &Address,
        before: u64,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, CoreError> {
        self.read(|m| {
            let list = m.lists.get(address).map_or(&[][..], Vec::as_slice);
            let end = usize::try_from(before)
                .unwrap_or(usize::MAX)
                .min(list.len());
            list[..end].iter().rev().take(limit).copied().collect()
        })
    }

    fn creator(&self, address: &Address) -> Result<Option<Hash>, CoreError> {
        self.read(|m| m.creators.get(address).copied())
    }

    fn code(&self, address: &Address) -> Result<Option<Vec<u8>>, CoreError> {
        self.read(|m| m.code.get(address).cloned())
    }

    fn storage(&self, address: &Address, slot: &[u8; 32]) -> Result<[u8; 32], CoreError> {
        self.read(|m| {
            m.storage
                .get(&(*address, *slot))
                .copied()
                .unwrap_or([0; 32])
        })
    }

    fn logs(&self, hash: &Hash) -> Result<Vec<Log>, CoreError> {
        self.read(|m| m.logs.get(hash).cloned().unwrap_or_default())
    }

    fn settings(&self) -> Result<Option<ChainSettings>, CoreError> {
        self.read(|m| m.settings)
    }

    fn decision(&self, depth: u64) -> Result<Option<Decision>, CoreError> {
        self.read(|m| m.decisions.get(&depth).cloned())
    }
}

impl StateCommit for MemoryStore {
    fn commit(&self, changes: &BlockChanges) -> Result<(), CoreError> {
        let mut m = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        check_extends(m.blocks.last().map(ChainTip::of), &changes.block)?;
        for append in &changes.lists {
            let length = m.lists.get(&append.address).map_or(0, Vec::len) as u64;
            if append.first_index != length {
                return Err(CoreError::Inconsistent(Inconsistency::ListIndex {
                    address: append.address,
                    length,
                    first_index: append.first_index,
                }));
            }
        }
        let entries = history_entries(changes)?;
        let block = &changes.block;
        m.depths.insert(block.hash(), block.depth);
        m.blocks.push(block.clone());
        m.transactions.extend(changes.transactions.iter().cloned());
        m.accounts.extend(changes.accounts.iter().copied());
        for (address, entry) in entries {
            m.lists.entry(address).or_default().push(entry);
        }
        m.creators.extend(changes.creators.iter().copied());
        m.code.extend(changes.code.iter().cloned());
        for (address, slot, value) in &changes.storage {
            if *value == [0; 32] {
                m.storage.remove(&(*address, *slot));
            } else {
                m.storage.insert((*address, *slot), *value);
            }
        }
        m.logs.extend(changes.logs.iter().cloned());
        if let Some(settings) = changes.settings {
            m.settings = Some(settings);
        }
        if let Some(decision) = &changes.decision {
            m.decisions.insert(changes.block.depth, decision.clone());
        }
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        0
    }

    fn state_entries(&self) -> Result<Vec<StateEntry>, CoreError> {
        self.read(|m| {
            let mut entries: Vec<StateEntry> =
                m.settings.map(StateEntry::Settings).into_iter().collect();
            entries.extend(m.accounts.iter().map(|(a, x)| StateEntry::Account(*a, *x)));
            for (address, list) in &m.lists {
                entries.extend(list.iter().map(|e| StateEntry::History(*address, *e)));
            }
            entries.extend(
                m.transactions
                    .iter()
                    .map(|(h, r)| StateEntry::Transaction(*h, r.clone())),
            );
            entries.extend(m.code.iter().map(|(a, c)| StateEntry::Code(*a, c.clone())));
            entries.extend(
                m.storage
                    .iter()
                    .map(|((a, slot), value)| StateEntry::Slot(*a, *slot, *value)),
            );
            entries.extend(m.logs.iter().map(|(h, l)| StateEntry::Logs(*h, l.clone())));
            entries.extend(m.creators.iter().map(|(a, h)| StateEntry::Creator(*a, *h)));
            entries
        })
    }

    fn install(&self, snapshot: &Snapshot) -> Result<(), CoreError> {
        let mut m = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let top = snapshot
            .top()
            .ok_or(CoreError::Inconsistent(Inconsistency::NotEmpty))?;
        if !m.blocks.is_empty() {
            return Err(CoreError::Inconsistent(Inconsistency::NotEmpty));
        }
        let mut memory = Memory::default();
        for block in &snapshot.blocks {
            memory.depths.insert(block.hash(), block.depth);
            memory.blocks.push(block.clone());
        }
        for entry in &snapshot.entries {
            match entry {
                StateEntry::Settings(settings) => memory.settings = Some(*settings),
                StateEntry::Account(address, account) => {
                    memory.accounts.insert(*address, *account);
                }
                StateEntry::History(address, entry) => {
                    memory.lists.entry(*address).or_default().push(*entry)
                }
                StateEntry::Transaction(hash, record) => {
                    memory.transactions.insert(*hash, record.clone());
                }
                StateEntry::Code(address, code) => {
                    memory.code.insert(*address, code.clone());
                }
                StateEntry::Slot(address, slot, value) => {
                    memory.storage.insert((*address, *slot), *value);
                }
                StateEntry::Logs(hash, logs) => {
                    memory.logs.insert(*hash, logs.clone());
                }
                StateEntry::Creator(address, hash) => {
                    memory.creators.insert(*address, *hash);
                }
            }
        }
        for list in memory.lists.values_mut() {
            list.sort_by_key(|entry| entry.position);
        }
        memory
            .decisions
            .insert(top.depth, snapshot.decision.clone());
        *m = memory;
        Ok(())
    }
}

/// The history entries a block's list appends make, each with its
/// account, in the order of `changes.lists`. Every store writes these.
pub fn history_entries(changes: &BlockChanges) -> Result<Vec<(Address, HistoryEntry)>, CoreError> {
    let block = &changes.block;
    let applied: HashMap<&Hash, &TransactionRecord> = changes
        .transactions
        .iter()
        .map(|(hash, record)| (hash, record))
        .collect();
    let mut entries = Vec::with_capacity(changes.lists.iter().map(|a| a.hashes.len()).sum());
    for append in &changes.lists {
        for (position, hash) in (append.first_index..).zip(&append.hashes) {
            let not_applied = || {
                CoreError::Inconsistent(Inconsistency::ListedNotApplied {
                    address: append.address,
                    hash: *hash,
                })
            };
            let record = applied.get(hash).ok_or_else(not_applied)?;
            let tx = usize::try_from(record.index)
                .ok()
                .and_then(|index| block.transactions.get(index))
                .ok_or_else(not_applied)?;
            entries.push((
                append.address,
                HistoryEntry {
                    position,
                    hash: *hash,
                    block_depth: block.depth,
                    index: record.index,
                    direction: Direction::of(&append.address, &tx.from, &tx.to),
                },
            ));
        }
    }
    Ok(entries)
}

/// Checks that `block` is the next block after `top` (or genesis on an
/// empty chain). Every store calls it before writing.
pub fn check_extends(top: Option<ChainTip>, block: &Sealed<Block>) -> Result<(), CoreError> {
    let fits = match top {
        None => block.depth == 0,
        Some(top) => {
            Some(block.depth) == top.depth.checked_add(1) && block.previous_block_hash == top.hash
        }
    };
    if fits {
        return Ok(());
    }
    Err(CoreError::InvalidBlock {
        hash: block.hash(),
        depth: block.depth,
        reason: match top {
            None => BlockError::NotGenesis,
            Some(top) if block.depth != top.depth.saturating_add(1) => BlockError::Depth {
                expected: top.depth.saturating_add(1),
            },
            Some(top) => BlockError::Parent {
                previous: block.previous_block_hash,
                top: top.hash,
                top_depth: top.depth,
            },
        },
    })
}
