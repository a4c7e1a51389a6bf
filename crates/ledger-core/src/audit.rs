//! An audit of a whole store: replay every stored block from the genesis
//! in memory, by the rules, and compare everything the store holds for
//! them (records, logs, accounts, account lists, code, storage slots, a
//! network's state commitments) with what the replay made.
//!
//! The check a node runs on open covers the top block only; this covers
//! the chain. It reads, never writes.

use std::collections::HashMap;

use crate::chain::{ChainConfig, Ledger};
use crate::commitment::{history_commitment, state_commitment};
use crate::error::CoreError;
use crate::execution::execute_genesis;
use crate::genesis::Genesis;
use crate::lattice::StateLattice;
use crate::primitives::{Address, Hash};
use crate::state::{Account, MemoryStore, StateCommit, StateRead, TransactionRecord};
use crate::vm::ContractEngine;

/// What an audit went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Blocks replayed after the genesis.
    pub blocks: u64,
    /// Transactions in them.
    pub transactions: u64,
    /// Accounts the chain made, each compared.
    pub accounts: u64,
}

/// Where a store differs from what its blocks make.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Divergence {
    /// The store holds no chain.
    #[error("the store holds no chain")]
    Empty,
    /// The store's genesis is not the given genesis's block.
    #[error("the store's genesis block is {stored}, the genesis given makes {expected}")]
    Genesis {
        /// The store's.
        stored: Hash,
        /// The given genesis's.
        expected: Hash,
    },
    /// A block below the tip is not stored.
    #[error("block {depth} is missing below the tip at {tip}")]
    MissingBlock {
        /// The missing depth.
        depth: u64,
        /// The tip's depth.
        tip: u64,
    },
    /// A stored block breaks the rules when replayed.
    #[error("block {depth} does not replay: {source}")]
    Block {
        /// Its depth.
        depth: u64,
        /// Why.
        source: Box<CoreError>,
    },
    /// A transaction's stored record is not the replay's.
    #[error("transaction {hash}: the store holds {stored:?}, the replay made {replayed:?}")]
    Record {
        /// The transaction.
        hash: Hash,
        /// What the store holds.
        stored: Box<Option<TransactionRecord>>,
        /// What the replay made.
        replayed: Box<TransactionRecord>,
    },
    /// A transaction's stored logs are not the replay's.
    #[error("transaction {hash}: its stored logs are not those the replay emitted")]
    Logs {
        /// The transaction.
        hash: Hash,
    },
    /// An account's stored state is not the replay's.
    #[error("account {address}: the store holds {stored:?}, the replay made {replayed:?}")]
    Account {
        /// The account.
        address: Address,
        /// What the store holds.
        stored: Box<Option<Account>>,
        /// What the replay made.
        replayed: Box<Account>,
    },
    /// An account's transaction list differs from the replay's.
    #[error(
        "account {address}: its transaction list differs from the replay's at position {position}"
    )]
    List {
        /// The account.
        address: Address,
        /// The first differing position.
        position: u64,
    },
    /// A contract's stored code is not the replay's.
    #[error("contract {address}: its stored code is not the code the replay deployed")]
    Code {
        /// The contract.
        address: Address,
    },
    /// A contract storage slot's stored value is not the replay's.
    #[error("contract {address}: slot {slot} holds another value than the replay wrote")]
    Storage {
        /// The contract.
        address: Address,
        /// The slot, as 32 bytes.
        slot: Hash,
    },
    /// A network's stored state commitment is not the replay's.
    #[error("block {depth}: the stored state commitment {stored} is not the replay's {replayed}")]
    Commitment {
        /// The block.
        depth: u64,
        /// What the store holds.
        stored: Hash,
        /// What the replay computed.
        replayed: Hash,
    },
    /// The lattice of the top block's decision is not the one of the
    /// replayed state.
    #[error("block {depth}: the stored state lattice {stored} is not the replay's {replayed}")]
    Lattice {
        /// The top block.
        depth: u64,
        /// Checksum of the stored lattice.
        stored: Hash,
        /// Checksum of the replayed state's lattice.
        replayed: Hash,
    },
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Read(#[source] Box<CoreError>),
}

impl From<CoreError> for Divergence {
    fn from(error: CoreError) -> Self {
        Divergence::Read(Box::new(error))
    }
}

/// Replays `store`'s chain of `genesis` in memory with `engine` and
/// compares everything the store holds for it; the first difference found.
pub fn audit<S, E>(store: &S, genesis: Genesis, engine: E) -> Result<AuditReport, Divergence>
where
    S: StateRead + ?Sized,
    E: ContractEngine,
{
    let tip = store.tip()?.ok_or(Divergence::Empty)?;
    let expected = genesis.block().hash();
    let stored = store.genesis_hash()?.ok_or(Divergence::Empty)?;
    if stored != expected {
        return Err(Divergence::Genesis { stored, expected });
    }
    // Blocks were accepted by a chain already: their size is history.
    let config = ChainConfig {
        max_block_transactions: usize::MAX,
        ..ChainConfig::default()
    };
    let mut replay = Ledger::open_with_engine(MemoryStore::new(), genesis.clone(), config, engine)
        .map_err(|source| Divergence::Block {
            depth: 0,
            source: Box::new(source),
        })?;
    let first = execute_genesis(genesis.block(), replay.settings())?;
    let mut history = history_commitment(&Hash::ZERO, &first);
    let mut accounts: HashMap<Address, Account> = first.accounts.iter().copied().collect();
    let mut code: HashMap<Address, Vec<u8>> = HashMap::new();
    let mut slots: HashMap<(Address, [u8; 32]), [u8; 32]> = HashMap::new();
    let mut report = AuditReport::default();
    for depth in 1..=tip.depth {
        let block = store.block_at(depth)?.ok_or(Divergence::MissingBlock {
            depth,
            tip: tip.depth,
        })?;
        let changes = replay
            .import_block(block.inner().clone())
            .map_err(|source| Divergence::Block {
                depth,
                source: Box::new(source),
            })?;
        history = history_commitment(&history, &changes);
        if let Some(decision) = store.decision(depth)? {
            // The lattice is compared once, at the top, against the whole
            // replayed state; every decision must commit to its own.
            let state = state_commitment(&history, &decision.lattice);
            for (stored, replayed) in [(decision.history, history), (decision.state, state)] {
                if stored != replayed {
                    return Err(Divergence::Commitment {
                        depth,
                        stored,
                        replayed,
                    });
                }
            }
        }
        let logs: HashMap<&Hash, &Vec<crate::Log>> = changes
            .logs
            .iter()
            .map(|(hash, logs)| (hash, logs))
            .collect();
        for (hash, record) in &changes.transactions {
            let stored = store.transaction(hash)?;
            if stored.as_ref() != Some(record) {
                return Err(Divergence::Record {
                    hash: *hash,
                    stored: Box::new(stored),
                    replayed: Box::new(record.clone()),
                });
            }
            let emitted = logs
                .get(hash)
                .map(|logs| logs.as_slice())
                .unwrap_or_default();
            if store.logs(hash)? != emitted {
                return Err(Divergence::Logs { hash: *hash });
            }
        }
        accounts.extend(changes.accounts.iter().copied());
        code.extend(changes.code.iter().cloned());
        slots.extend(
            changes
                .storage
                .iter()
                .map(|(address, slot, value)| ((*address, *slot), *value)),
        );
        report.blocks += 1;
        report.transactions += changes.transactions.len() as u64;
    }
    for (address, replayed) in &accounts {
        let stored = store.account(address)?;
        if stored.as_ref() != Some(replayed) {
            return Err(Divergence::Account {
                address: *address,
                stored: Box::new(stored),
                replayed: Box::new(*replayed),
            });
        }
        let length = usize::try_from(replayed.transaction_count).unwrap_or(usize::MAX);
        let ours = replay.store().account_transactions(address, 0, length)?;
        let theirs = store.account_transactions(address, 0, length)?;
        if let Some(position) =
            (0..ours.len().max(theirs.len())).find(|&i| ours.get(i) != theirs.get(i))
        {
            return Err(Divergence::List {
                address: *address,
                position: position as u64,
            });
        }
    }
    for (address, replayed) in &code {
        if store.code(address)?.as_ref() != Some(replayed) {
            return Err(Divergence::Code { address: *address });
        }
    }
    for ((address, slot), value) in &slots {
        if store.storage(address, slot)? != *value {
            return Err(Divergence::Storage {
                address: *address,
                slot: Hash(*slot),
            });
        }
    }
    if let Some(decision) = store.decision(tip.depth)? {
        let replayed = StateLattice::of(&replay.store().state_entries()?);
        if replayed != decision.lattice {
            return Err(Divergence::Lattice {
                depth: tip.depth,
                stored: decision.lattice.checksum(),
                replayed: replayed.checksum(),
            });
        }
    }
    report.accounts = accounts.len() as u64;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Decision, StateCommit};
    use crate::testing::{genesis_for, keys, produce};
    use crate::vm::NoContracts;
    use crate::Balance;

    /// A store holding the genesis and three blocks of `keys`' chain, each
    /// block's changes passed through `edit` on the way in.
    fn chain_with(edit: impl Fn(u64, &mut crate::BlockChanges)) -> (MemoryStore, Genesis) {
        let keys = keys(3, 9);
        let genesis = genesis_for(&keys);
        let mut source = Ledger::open(MemoryStore::new(), genesis.clone(), ChainConfig::default())
            .expect("opens");
        let store = MemoryStore::new();
        let settings = *source.settings();
        store
            .commit(&execute_genesis(genesis.block(), &settings).expect("genesis"))
            .expect("genesis");
        for depth in 1..=3 {
            let mut changes = produce(&mut source, &keys, keys[0].address(), 4).expect("a block");
            edit(depth, &mut changes);
            store.commit(&changes).expect("commits");
        }
        (store, genesis)
    }

    #[test]
    fn a_store_its_blocks_made_passes() {
        let (store, genesis) = chain_with(|_, _| {});
        let report = audit(&store, genesis, NoContracts).expect("passes");
        // Four transfers a block, the second of each unaffordable: refused.
        assert_eq!((report.blocks, report.transactions), (3, 9));
        assert!(report.accounts >= 3);
    }

    /// The final state is what is compared: a balance one off in the
    /// last block's write is named (one a later block rewrote would be
    /// harmless, and is not).
    #[test]
    fn a_balance_its_blocks_did_not_make_is_named() {
        let (store, genesis) = chain_with(|depth, changes| {
            if depth == 3 {
                let account = &mut changes.accounts[0].1;
                account.balance = account.balance.checked_add(Balance::from(1)).expect("fits");
            }
        });
        match audit(&store, genesis, NoContracts) {
            Err(Divergence::Account {
                stored, replayed, ..
            }) => assert_eq!(
                stored.map(|stored| stored.balance),
                replayed.balance.checked_add(Balance::from(1))
            ),
            other => panic!("expected the account named, got {other:?}"),
        }
    }

    #[test]
    fn a_record_its_blocks_did_not_make_is_named() {
        let (store, genesis) = chain_with(|depth, changes| {
            if depth == 3 {
                changes.transactions[1].1.status.fee_left += 1;
            }
        });
        let hash = match audit(&store, genesis, NoContracts) {
            Err(Divergence::Record { hash, .. }) => hash,
            other => panic!("expected a record named, got {other:?}"),
        };
        assert!(store.transaction(&hash).expect("reads").is_some());
    }

    #[test]
    fn a_wrong_state_commitment_is_named() {
        let (store, genesis) = chain_with(|depth, changes| {
            if depth == 2 {
                changes.decision = Some(Decision {
                    state: Hash([7; 32]),
                    history: Hash([7; 32]),
                    lattice: StateLattice::new(),
                    certificate: Vec::new(),
                });
            }
        });
        match audit(&store, genesis, NoContracts) {
            Err(Divergence::Commitment {
                depth: 2, stored, ..
            }) => {
                assert_eq!(stored, Hash([7; 32]));
            }
            other => panic!("expected block 2's commitment named, got {other:?}"),
        }
    }

    #[test]
    fn another_genesis_is_named() {
        let (store, mut genesis) = chain_with(|_, _| {});
        genesis.timestamp += 1;
        assert!(matches!(
            audit(&store, genesis, NoContracts),
            Err(Divergence::Genesis { .. })
        ));
    }
}
