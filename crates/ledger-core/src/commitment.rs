//! A commitment to the state, which validators of a network compare
//! before they vote: the history of every block's [`BlockChanges`],
//! chained, and the [`StateLattice`] of the whole state after the block.
//!
//! Two nodes that executed the same blocks from the same genesis hold the
//! same commitment, and one changed byte of any account, list, record,
//! code, storage slot or log anywhere in the chain's history changes it.
//! The lattice lets a node check a snapshot of the state alone against
//! it (the history chain proves a history, not a state). The block hash
//! stays as `ledger-rules.md` defines it; the commitment travels beside
//! the block (see `docs/consensus.md`).
//!
//! ```text
//! history(genesis) = sha256("ledger-state-v1" ‖ 32 zero bytes ‖ block hash ‖ sha256(changes))
//! history(block)   = sha256("ledger-state-v1" ‖ history(parent) ‖ block hash ‖ sha256(changes))
//! state(block)     = sha256("ledger-state-v2" ‖ history(block) ‖ lattice checksum)
//! ```
//!
//! `changes` is the canonical encoding below: fixed-width big-endian
//! integers, every list and byte string prefixed with its length as a
//! `u64`, sections in a fixed order, entries in the order execution puts
//! them (addresses ascending, transactions in block order). The chain's
//! settings are committed in the genesis only: a later block carries them
//! only when its store was created before settings were stored, which is
//! one node's history, not the chain's.

use sha2::{Digest, Sha256};

use crate::lattice::StateLattice;
use crate::primitives::Hash;
use crate::state::{AccountKind, BlockChanges};

/// The domain every history hash starts with.
const DOMAIN: &[u8] = b"ledger-state-v1";

/// The domain of the state commitment.
const STATE_DOMAIN: &[u8] = b"ledger-state-v2";

/// The commitment validators vote on: the history up to a block and the
/// lattice of the state after it.
pub fn state_commitment(history: &Hash, lattice: &StateLattice) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(STATE_DOMAIN);
    hasher.update(history.as_bytes());
    hasher.update(lattice.checksum().as_bytes());
    Hash(hasher.finalize().into())
}

/// The history after `changes`, whose parent's history is `parent`
/// ([`Hash::ZERO`] for the genesis).
pub fn history_commitment(parent: &Hash, changes: &BlockChanges) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(parent.as_bytes());
    hasher.update(changes.block.hash().as_bytes());
    hasher.update(changes_digest(changes).as_bytes());
    Hash(hasher.finalize().into())
}

/// sha256 of the canonical encoding of everything `changes` writes
/// besides the block itself and its `decision` (which holds the
/// commitment, so cannot be part of it).
pub fn changes_digest(changes: &BlockChanges) -> Hash {
    let mut out = Canonical(Sha256::new());
    out.len(changes.accounts.len());
    for (address, account) in &changes.accounts {
        out.bytes(address.as_bytes());
        out.bytes(&account.balance.to_be_bytes());
        out.u64(account.nonce);
        out.bytes(&[match account.kind {
            AccountKind::Client => 0,
            AccountKind::Contract => 1,
        }]);
        out.u64(account.transaction_count);
    }
    out.len(changes.lists.len());
    for list in &changes.lists {
        out.bytes(list.address.as_bytes());
        out.u64(list.first_index);
        out.len(list.hashes.len());
        for hash in &list.hashes {
            out.bytes(hash.as_bytes());
        }
    }
    out.len(changes.transactions.len());
    for (hash, record) in &changes.transactions {
        out.bytes(hash.as_bytes());
        out.u64(record.block_depth);
        out.bytes(&record.index.to_be_bytes());
        out.bytes(&[
            record.status.status_code as u8,
            record.status.action_type as u8,
        ]);
        out.u64(record.status.fee_left);
        out.sized(record.status.message.as_bytes());
    }
    out.len(changes.code.len());
    for (address, code) in &changes.code {
        out.bytes(address.as_bytes());
        out.sized(code);
    }
    out.len(changes.storage.len());
    for (address, slot, value) in &changes.storage {
        out.bytes(address.as_bytes());
        out.bytes(slot);
        out.bytes(value);
    }
    out.len(changes.logs.len());
    for (hash, logs) in &changes.logs {
        out.bytes(hash.as_bytes());
        out.len(logs.len());
        for log in logs {
            out.bytes(log.address.as_bytes());
            out.len(log.topics.len());
            for topic in &log.topics {
                out.bytes(topic);
            }
            out.sized(&log.data);
        }
    }
    out.len(changes.creators.len());
    for (address, creator) in &changes.creators {
        out.bytes(address.as_bytes());
        out.bytes(creator.as_bytes());
    }
    match (&changes.settings, changes.block.depth) {
        (Some(settings), 0) => {
            out.bytes(&[1]);
            out.sized(settings.evm_fork.name().as_bytes());
            out.u64(settings.chain_id);
            out.u64(settings.block_gas_limit);
        }
        _ => out.bytes(&[0]),
    }
    Hash(out.0.finalize().into())
}

/// The canonical encoding, written straight into the hash.
struct Canonical(Sha256);

impl Canonical {
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn u64(&mut self, value: u64) {
        self.0.update(value.to_be_bytes());
    }

    fn len(&mut self, len: usize) {
        // usize is at most 64 bits on every target Rust supports.
        self.u64(len as u64);
    }

    fn sized(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.bytes(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Block;
    use crate::primitives::{Address, Balance};
    use crate::sealed::Sealable;
    use crate::settings::ChainSettings;
    use crate::state::{Account, ListAppend, Log, TransactionRecord};
    use crate::status::TransactionStatus;

    fn block(depth: u64) -> Block {
        Block {
            depth,
            nonce: 0,
            timestamp: 7,
            previous_block_hash: Hash::ZERO,
            coinbase: Address([9; 20]),
            transactions: Vec::new(),
        }
    }

    /// Changes with one entry in every section.
    fn changes(depth: u64) -> BlockChanges {
        let tx = Hash([3; 32]);
        BlockChanges {
            block: block(depth).seal(),
            accounts: vec![(
                Address([1; 20]),
                Account {
                    balance: Balance::from(5u64),
                    nonce: 1,
                    kind: AccountKind::Client,
                    transaction_count: 1,
                },
            )],
            lists: vec![ListAppend {
                address: Address([1; 20]),
                first_index: 0,
                hashes: vec![tx],
            }],
            transactions: vec![(
                tx,
                TransactionRecord {
                    block_depth: depth,
                    index: 0,
                    status: TransactionStatus::pending(),
                },
            )],
            code: vec![(Address([2; 20]), vec![0x60, 0x00])],
            storage: vec![(Address([2; 20]), [4; 32], [5; 32])],
            logs: vec![(
                tx,
                vec![Log {
                    address: Address([2; 20]),
                    topics: vec![[6; 32]],
                    data: vec![7],
                }],
            )],
            creators: vec![(Address([2; 20]), tx)],
            settings: Some(ChainSettings::default()),
            decision: None,
        }
    }

    #[test]
    fn the_same_changes_commit_to_the_same_hash() {
        assert_eq!(
            history_commitment(&Hash::ZERO, &changes(1)),
            history_commitment(&Hash::ZERO, &changes(1))
        );
    }

    #[test]
    fn the_parent_and_the_block_are_committed() {
        let base = history_commitment(&Hash::ZERO, &changes(1));
        assert_ne!(base, history_commitment(&Hash([1; 32]), &changes(1)));
        assert_ne!(base, history_commitment(&Hash::ZERO, &changes(2)));
    }

    /// Each edit changes one field of one section; each must change the
    /// commitment, and no two may collide.
    #[test]
    fn every_field_of_every_section_is_committed() {
        type Edit = fn(&mut BlockChanges);
        let edits: &[(&str, Edit)] = &[
            ("balance", |c| c.accounts[0].1.balance = Balance::from(6u64)),
            ("nonce", |c| c.accounts[0].1.nonce = 2),
            ("kind", |c| c.accounts[0].1.kind = AccountKind::Contract),
            ("count", |c| c.accounts[0].1.transaction_count = 2),
            ("account", |c| c.accounts[0].0 = Address([8; 20])),
            ("list index", |c| c.lists[0].first_index = 1),
            ("list hash", |c| c.lists[0].hashes[0] = Hash([8; 32])),
            ("list extra", |c| c.lists[0].hashes.push(Hash([8; 32]))),
            ("record index", |c| c.transactions[0].1.index = 1),
            ("record depth", |c| c.transactions[0].1.block_depth = 9),
            ("record fee", |c| c.transactions[0].1.status.fee_left = 1),
            ("record text", |c| {
                c.transactions[0].1.status.message = "x".into()
            }),
            ("code", |c| c.code[0].1.push(0)),
            ("slot", |c| c.storage[0].1 = [0; 32]),
            ("slot value", |c| c.storage[0].2 = [0; 32]),
            ("log topic", |c| c.logs[0].1[0].topics.clear()),
            ("log data", |c| c.logs[0].1[0].data.clear()),
            ("creator", |c| c.creators[0].1 = Hash([8; 32])),
            ("no logs", |c| c.logs.clear()),
        ];
        let mut seen = std::collections::HashMap::new();
        seen.insert(changes_digest(&changes(1)), "unchanged");
        for (name, edit) in edits {
            let mut edited = changes(1);
            edit(&mut edited);
            if let Some(other) = seen.insert(changes_digest(&edited), name) {
                panic!("editing {name} commits like {other}");
            }
        }
    }

    /// A byte moved from one string to the next must not commit alike:
    /// lengths prefix every variable part.
    #[test]
    fn lengths_keep_neighbouring_strings_apart() {
        let mut a = changes(1);
        a.code = vec![(Address([2; 20]), vec![1, 2]), (Address([2; 20]), vec![3])];
        let mut b = changes(1);
        b.code = vec![(Address([2; 20]), vec![1]), (Address([2; 20]), vec![2, 3])];
        assert_ne!(changes_digest(&a), changes_digest(&b));
    }

    #[test]
    fn settings_count_in_the_genesis_only() {
        let mut genesis = changes(0);
        let with = changes_digest(&genesis);
        genesis.settings = None;
        assert_ne!(with, changes_digest(&genesis));

        let mut later = changes(1);
        let with = changes_digest(&later);
        later.settings = None;
        assert_eq!(with, changes_digest(&later));
    }

    /// Pins the encoding: a change here forks every network of validators
    /// running the previous version, so it needs a new domain.
    #[test]
    fn the_encoding_is_pinned() {
        assert_eq!(
            history_commitment(&Hash::ZERO, &changes(1)).to_string(),
            "exGWCc9V5PFEl2UM2eGo3YrCws+Xu14KRdynhT2yiQs="
        );
    }
}
