//! What the chain announces after each stored block.

use std::collections::HashMap;

use ledger_core::{
    Account, Address, Block, BlockChanges, ChainTip, Hash, Log, Sealed, TransactionStatus,
};

/// One stored block, as subscribers need it: its body and every status, so
/// that no subscriber reads the store again to learn what the block did.
#[derive(Debug)]
#[non_exhaustive]
pub struct BlockEvent {
    /// The new top block.
    pub tip: ChainTip,
    /// The block itself, with its transactions.
    pub block: Sealed<Block>,
    /// New state of every account the block touched.
    pub accounts: HashMap<Address, Account>,
    /// Final status of every transaction of the block.
    pub statuses: HashMap<Hash, TransactionStatus>,
    /// The logs of each transaction that emitted any, in block order.
    pub logs: Vec<(Hash, Vec<Log>)>,
    /// Pending transactions the block left uncovered, dropped from the
    /// mempool, with the final status their pushers are owed.
    pub dropped: HashMap<Hash, TransactionStatus>,
    /// When the commit returned: Unix-epoch nanoseconds on the chain's clock.
    pub stored_at: u64,
}

impl BlockEvent {
    /// The event of a committed block's changes, and of the pending
    /// transactions it made the mempool drop, stored at `stored_at` (Unix
    /// nanoseconds).
    pub fn of(
        changes: &BlockChanges,
        dropped: Vec<(Hash, TransactionStatus)>,
        stored_at: u64,
    ) -> BlockEvent {
        BlockEvent {
            tip: changes.tip(),
            block: changes.block.clone(),
            accounts: changes.accounts.iter().copied().collect(),
            statuses: changes
                .transactions
                .iter()
                .map(|(hash, record)| (*hash, record.status.clone()))
                .collect(),
            logs: changes.logs.clone(),
            dropped: dropped.into_iter().collect(),
            stored_at,
        }
    }
}
