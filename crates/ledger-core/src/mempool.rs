//! The mempool: admission of pushed transactions (ledger-rules.md,
//! "Admission") and their order for block production.

use std::collections::{BTreeMap, HashMap};

use crate::error::CoreError;
use crate::primitives::{Address, Balance, Hash};
use crate::state::StateRead;
use crate::status::{StatusCode, TransactionStatus};
use crate::transaction::VerifiedTransaction;

/// The answer to a push, once the stateless checks (form, signature) passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Admitted now; Pending.
    Admitted,
    /// The same hash is already pending; Pending, nothing added.
    AlreadyPending,
    /// The same hash was applied in a block; its stored final status.
    AlreadyApplied(TransactionStatus),
    /// Refused (not enough balance); the status says why.
    Rejected(TransactionStatus),
}

impl Admission {
    /// The status to answer the pusher with.
    pub fn status(&self) -> TransactionStatus {
        match self {
            Admission::Admitted | Admission::AlreadyPending => TransactionStatus::pending(),
            Admission::AlreadyApplied(status) | Admission::Rejected(status) => status.clone(),
        }
    }
}

struct Entry {
    tx: VerifiedTransaction,
    seq: u64,
    spend: Balance,
}

/// Pending transactions, in arrival order, with each sender's pending spend.
///
/// Bounded: past `max_pending` transactions, or `max_pending_bytes`, a
/// push is refused with [`CoreError::MempoolFull`] or
/// [`CoreError::MempoolBytesFull`], never buffered without limit.
pub struct Mempool {
    max_pending: usize,
    max_pending_bytes: usize,
    bytes: usize,
    entries: HashMap<Hash, Entry>,
    order: BTreeMap<u64, Hash>,
    spend: HashMap<Address, Balance>,
    next_seq: u64,
}

impl Mempool {
    /// An empty mempool holding at most `max_pending` transactions of at
    /// most `max_pending_bytes` in all.
    pub fn new(max_pending: usize, max_pending_bytes: usize) -> Mempool {
        Mempool {
            max_pending,
            max_pending_bytes,
            bytes: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            spend: HashMap::new(),
            next_seq: 0,
        }
    }

    /// How many transactions are pending.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes pending (see [`Mempool::size_of`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// What a pending transaction counts against `max_pending_bytes`: its
    /// payload plus a fixed 256 for its fields and bookkeeping.
    pub fn size_of(tx: &VerifiedTransaction) -> usize {
        tx.data.len().saturating_add(256)
    }

    /// Whether `hash` is pending.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.entries.contains_key(hash)
    }

    /// The pending transaction of `hash`, verified on admission.
    pub fn get(&self, hash: &Hash) -> Option<&VerifiedTransaction> {
        self.entries.get(hash).map(|entry| &entry.tx)
    }

    /// What `address` already spends (amount + fee) in pending transactions.
    pub fn pending_spend(&self, address: &Address) -> Balance {
        self.spend.get(address).copied().unwrap_or_default()
    }

    /// Runs the stateful admission checks against `state` (the newest block's
    /// state) in the order of ledger-rules.md, and admits the transaction if
    /// they pass.
    pub fn admit<S: StateRead + ?Sized>(
        &mut self,
        tx: VerifiedTransaction,
        state: &S,
    ) -> Result<Admission, CoreError> {
        let hash = tx.hash();
        if let Some(record) = state.transaction(&hash)? {
            return Ok(Admission::AlreadyApplied(record.status));
        }
        if self.entries.contains_key(&hash) {
            return Ok(Admission::AlreadyPending);
        }
        let balance = state.account_or_default(&tx.from)?.balance;
        let pending = self.pending_spend(&tx.from);
        let available = balance.checked_sub(pending).unwrap_or(Balance::ZERO);
        let cost = tx.amount.checked_add(Balance::from(tx.fee));
        let Some(spend) = cost.filter(|cost| *cost <= available) else {
            let pending_part = if pending.is_zero() {
                String::new()
            } else {
                format!(" minus {pending} pending")
            };
            let message = format!(
                "balance {balance} of {}{pending_part} does not cover amount {} + fee {}",
                tx.from, tx.amount, tx.fee
            );
            return Ok(Admission::Rejected(TransactionStatus::rejected(
                StatusCode::NotEnoughBalance,
                message,
            )));
        };
        if self.entries.len() >= self.max_pending {
            return Err(CoreError::MempoolFull {
                max: self.max_pending,
            });
        }
        let size = Mempool::size_of(&tx);
        if self.bytes.saturating_add(size) > self.max_pending_bytes {
            return Err(CoreError::MempoolBytesFull {
                max_bytes: self.max_pending_bytes,
            });
        }
        self.bytes += size;
        // `spend` fits within the balance, so the sum stays below it too.
        let total = pending.checked_add(spend).unwrap_or(Balance::MAX);
        self.spend.insert(tx.from, total);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, hash);
        self.entries.insert(hash, Entry { tx, seq, spend });
        Ok(Admission::Admitted)
    }

    /// Up to `max` pending transactions, oldest first, for the next block.
    /// They stay pending until [`Mempool::remove`] is called for them.
    pub fn select(&self, max: usize) -> Vec<VerifiedTransaction> {
        self.order
            .values()
            .take(max)
            .filter_map(|hash| self.entries.get(hash))
            .map(|entry| entry.tx.clone())
            .collect()
    }

    /// Removes transactions that left the pool (applied in a block);
    /// hashes that are not pending are ignored.
    pub fn remove<'h>(&mut self, hashes: impl IntoIterator<Item = &'h Hash>) {
        for hash in hashes {
            let Some(entry) = self.entries.remove(hash) else {
                continue;
            };
            self.order.remove(&entry.seq);
            self.bytes = self.bytes.saturating_sub(Mempool::size_of(&entry.tx));
            if let Some(total) = self.spend.get_mut(&entry.tx.from) {
                *total = total.checked_sub(entry.spend).unwrap_or_default();
                if total.is_zero() {
                    self.spend.remove(&entry.tx.from);
                }
            }
        }
    }

    /// Re-checks, after a block, the pending transactions of the senders
    /// in `touched`: a sender whose balance no longer covers what its
    /// pending transactions would spend (a block from elsewhere spent it)
    /// loses its newest ones until the rest are covered. Returns each
    /// evicted transaction's hash and its final status, NotEnoughBalance,
    /// which its pusher is owed.
    pub fn recheck<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
        touched: impl IntoIterator<Item = Address>,
    ) -> Result<Vec<(Hash, TransactionStatus)>, CoreError> {
        let mut evicted = Vec::new();
        for sender in touched {
            let pending = self.pending_spend(&sender);
            if pending.is_zero() {
                continue;
            }
            let balance = state.account_or_default(&sender)?.balance;
            if pending <= balance {
                continue;
            }
            // The sender's pending transactions, newest first.
            let mut newest: Vec<(u64, Hash)> = self
                .entries
                .iter()
                .filter(|(_, entry)| entry.tx.from == sender)
                .map(|(hash, entry)| (entry.seq, *hash))
                .collect();
            newest.sort_unstable_by_key(|&(seq, _)| std::cmp::Reverse(seq));
            for (_, hash) in newest {
                if self.pending_spend(&sender) <= balance {
                    break;
                }
                let message = format!(
                    "dropped from the pending transactions: balance {balance} of {sender} \
                     no longer covers them after the last block"
                );
                self.remove([&hash]);
                evicted.push((
                    hash,
                    TransactionStatus::rejected(StatusCode::NotEnoughBalance, message),
                ));
            }
        }
        Ok(evicted)
    }
}
