//! The session room: what one connection has asked for and is owed. Ids in
//! use, subscriptions and pushes awaiting admission, their limits, and
//! which notifications a stored block owes: plain state and decisions,
//! with no socket, store or chain in sight.

use std::collections::{HashMap, HashSet};

use ledger_chain::BlockEvent;
use ledger_core::{Account, Address, ChainTip, Hash, TransactionStatus};

use crate::logs::{LogFilter, LogMessage};
use crate::request_error::RequestError;

/// A subscription that follows blocks.
#[derive(Debug)]
struct Following {
    id: u64,
    /// Depth of the block the last message reported.
    sent: u64,
}

/// What a stored block owes this connection, in the order it is sent:
/// the new top, then changed accounts, then final statuses of pushes.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Owed {
    /// The `last_block_info` subscription's id and the new top.
    pub(crate) tip: Option<(u64, ChainTip)>,
    /// Each changed account's subscription id, address and new state.
    pub(crate) accounts: Vec<(u64, Address, Account)>,
    /// Each finished push's id and final status; those pushes end.
    pub(crate) statuses: Vec<(u64, TransactionStatus)>,
    /// Each matching log and its `logs` subscription's id, in chain order.
    pub(crate) logs: Vec<(u64, LogMessage)>,
}

/// What [`Session::admitted`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// The push was cancelled while it was admitted.
    Cancelled,
    /// The push still wants its answers; `early` is its final status if a
    /// block event brought it before the admission answer.
    Wanted { early: Option<TransactionStatus> },
}

/// One connection's session.
#[derive(Debug, Default)]
pub(crate) struct Session {
    blocks: Option<Following>,
    accounts: HashMap<Address, Following>,
    /// `logs` subscriptions, by filter.
    logs: HashMap<LogFilter, Following>,
    /// Pushes answered Pending, awaiting their final status, by hash.
    pushes: HashMap<Hash, u64>,
    /// Pushes awaiting admission; removing one cancels it.
    admitting: HashSet<Hash>,
    /// Ids of active subscriptions and of requests in flight.
    ids: HashSet<u64>,
    /// Pushes whose final status came in a block event before their
    /// admission answer (stored in that block, or dropped from the mempool
    /// by it): the status, for when the answer comes. Every push is in
    /// `admitting` before the chain can see it, so no block event that
    /// finishes it can pass unnoticed, and no store read is needed.
    final_early: HashMap<Hash, TransactionStatus>,
}

impl Session {
    /// Refuses an id still in use.
    pub(crate) fn check_id(&self, id: u64) -> Result<(), RequestError> {
        if self.ids.contains(&id) {
            return Err(RequestError::DuplicateId { id });
        }
        Ok(())
    }

    /// Marks `id` in use (a request in flight or a subscription).
    pub(crate) fn hold(&mut self, id: u64) {
        self.ids.insert(id);
    }

    /// Frees `id`.
    pub(crate) fn release(&mut self, id: u64) {
        self.ids.remove(&id);
    }

    /// Whether `id` is in use: a subscription or a request in flight.
    pub(crate) fn holds(&self, id: u64) -> bool {
        self.ids.contains(&id)
    }

    /// Active subscriptions by kind: `last_block_info`, `account_info`,
    /// `push_transaction` (awaiting admission included), `logs`.
    pub(crate) fn counts(&self) -> [usize; 4] {
        [
            usize::from(self.blocks.is_some()),
            self.accounts.len(),
            self.pushes.len() + self.admitting.len(),
            self.logs.len(),
        ]
    }

    /// Active subscriptions, pushes awaiting admission included.
    pub(crate) fn subscriptions(&self) -> usize {
        usize::from(self.blocks.is_some())
            + self.accounts.len()
            + self.logs.len()
            + self.pushes.len()
            + self.admitting.len()
    }

    fn check_room(&self, limit: usize) -> Result<(), RequestError> {
        if self.subscriptions() >= limit {
            return Err(RequestError::SubscriptionLimit { limit });
        }
        Ok(())
    }

    /// Whether a `last_block_info` subscription may start (limit `limit`).
    pub(crate) fn may_follow_blocks(&self, limit: usize) -> Result<(), RequestError> {
        if self.blocks.is_some() {
            return Err(RequestError::AlreadySubscribed {
                what: "last_block_info".into(),
            });
        }
        self.check_room(limit)
    }

    /// Starts following blocks as `id`, the client told of `depth`.
    pub(crate) fn follow_blocks(&mut self, id: u64, depth: u64) {
        self.blocks = Some(Following { id, sent: depth });
        self.ids.insert(id);
    }

    /// Whether an `account_info` subscription of `address` may start.
    pub(crate) fn may_follow_account(
        &self,
        address: &Address,
        limit: usize,
    ) -> Result<(), RequestError> {
        let what = || format!("account_info of {address}");
        self.may_follow(&self.accounts, address, what, limit)
    }

    /// Whether a subscription keyed `key` among `following` may start:
    /// not while one with the same key is active (`what` names it), and
    /// only within `limit`.
    fn may_follow<K: Eq + std::hash::Hash>(
        &self,
        following: &HashMap<K, Following>,
        key: &K,
        what: impl FnOnce() -> String,
        limit: usize,
    ) -> Result<(), RequestError> {
        if following.contains_key(key) {
            return Err(RequestError::AlreadySubscribed { what: what() });
        }
        self.check_room(limit)
    }

    /// Starts following `address` as `id`, the client told of `depth`.
    pub(crate) fn follow_account(&mut self, address: Address, id: u64, depth: u64) {
        self.accounts.insert(address, Following { id, sent: depth });
        self.ids.insert(id);
    }

    /// Whether a `logs` subscription with `filter` may start.
    pub(crate) fn may_follow_logs(
        &self,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<(), RequestError> {
        let what = || "logs with these args".to_owned();
        self.may_follow(&self.logs, filter, what, limit)
    }

    /// Starts following logs passing `filter` as `id`, the client told of
    /// blocks up to `depth`.
    pub(crate) fn follow_logs(&mut self, filter: LogFilter, id: u64, depth: u64) {
        self.logs.insert(filter, Following { id, sent: depth });
        self.ids.insert(id);
    }

    /// Ends the `logs` subscription with `filter`.
    pub(crate) fn unfollow_logs(&mut self, filter: &LogFilter) -> bool {
        let removed = self.logs.remove(filter).map(|following| following.id);
        self.forget(removed)
    }

    /// Whether a push of `hash` may start.
    pub(crate) fn may_push(&self, hash: &Hash, limit: usize) -> Result<(), RequestError> {
        if self.pushes.contains_key(hash) || self.admitting.contains(hash) {
            return Err(RequestError::AlreadySubscribed {
                what: format!("push_transaction of {hash}"),
            });
        }
        self.check_room(limit)
    }

    /// A push of `hash` went to admission.
    pub(crate) fn admitting(&mut self, hash: Hash) {
        self.admitting.insert(hash);
    }

    /// Admission of `hash` answered: cancelled meanwhile (the answer is
    /// dropped), or still wanted, with the final status a block event
    /// brought before the answer, if one did.
    pub(crate) fn admitted(&mut self, hash: &Hash) -> Admitted {
        if !self.admitting.remove(hash) {
            return Admitted::Cancelled;
        }
        Admitted::Wanted {
            early: self.final_early.remove(hash),
        }
    }

    /// A push of `hash`, answered Pending as `id`, awaits its final status
    /// from a block event.
    pub(crate) fn await_final(&mut self, hash: Hash, id: u64) {
        self.pushes.insert(hash, id);
        self.ids.insert(id);
    }

    /// Ends the `last_block_info` subscription; `true` if there was one.
    pub(crate) fn unfollow_blocks(&mut self) -> bool {
        let removed = self.blocks.take().map(|following| following.id);
        self.forget(removed)
    }

    /// Ends the `account_info` subscription of `address`.
    pub(crate) fn unfollow_account(&mut self, address: &Address) -> bool {
        let removed = self.accounts.remove(address).map(|following| following.id);
        self.forget(removed)
    }

    /// Ends a push: one awaiting its final status, or one still being
    /// admitted (cancelled: its id is freed when the admission answers).
    pub(crate) fn unpush(&mut self, hash: &Hash) -> bool {
        match self.pushes.remove(hash) {
            Some(id) => self.forget(Some(id)),
            None => {
                self.final_early.remove(hash);
                self.admitting.remove(hash)
            }
        }
    }

    fn forget(&mut self, removed: Option<u64>) -> bool {
        if let Some(id) = removed {
            self.ids.remove(&id);
        }
        removed.is_some()
    }

    /// What `event` owes this connection; ends the pushes it finishes and
    /// remembers what was reported, so a block is never reported twice.
    pub(crate) fn owed(&mut self, event: &BlockEvent) -> Owed {
        let depth = event.tip.depth;
        let mut owed = Owed::default();
        if let Some(following) = &mut self.blocks {
            if depth > following.sent {
                following.sent = depth;
                owed.tip = Some((following.id, event.tip));
            }
        }
        for (address, following) in &mut self.accounts {
            if depth <= following.sent {
                continue;
            }
            if let Some(account) = event.accounts.get(address) {
                following.sent = depth;
                owed.accounts.push((following.id, *address, *account));
            }
        }
        if !event.logs.is_empty() {
            for (filter, following) in &mut self.logs {
                if depth <= following.sent {
                    continue;
                }
                following.sent = depth;
                let id = following.id;
                owed.logs.extend(
                    crate::logs::messages(depth, &event.logs, filter).map(|message| (id, message)),
                );
            }
        }
        for statuses in [&event.statuses, &event.dropped] {
            for (hash, status) in in_both(&self.admitting, statuses) {
                self.final_early.insert(hash, status.clone());
            }
            for (hash, status) in in_both(&self.pushes, statuses) {
                if let Some(id) = self.pushes.remove(&hash) {
                    self.ids.remove(&id);
                    owed.statuses.push((id, status.clone()));
                }
            }
        }
        owed
    }
}

/// A set of hashes: a session's pushes or admissions.
trait Hashes {
    fn count(&self) -> usize;
    fn has(&self, hash: &Hash) -> bool;
    fn each(&self) -> impl Iterator<Item = &Hash>;
}

impl Hashes for HashSet<Hash> {
    fn count(&self) -> usize {
        self.len()
    }
    fn has(&self, hash: &Hash) -> bool {
        self.contains(hash)
    }
    fn each(&self) -> impl Iterator<Item = &Hash> {
        self.iter()
    }
}

impl<V> Hashes for HashMap<Hash, V> {
    fn count(&self) -> usize {
        self.len()
    }
    fn has(&self, hash: &Hash) -> bool {
        self.contains_key(hash)
    }
    fn each(&self) -> impl Iterator<Item = &Hash> {
        self.keys()
    }
}

/// The hashes both in `mine` and among a block's `statuses`, with their
/// status, looked up from the smaller side: few pushes against a large
/// block, or many pushes against a small one.
fn in_both<'a>(
    mine: &impl Hashes,
    statuses: &'a HashMap<Hash, TransactionStatus>,
) -> Vec<(Hash, &'a TransactionStatus)> {
    if mine.count() <= statuses.len() {
        mine.each()
            .filter_map(|hash| Some((*hash, statuses.get(hash)?)))
            .collect()
    } else {
        statuses
            .iter()
            .filter(|(hash, _)| mine.has(hash))
            .map(|(hash, status)| (*hash, status))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::testing::{genesis_for, keys, T0};
    use ledger_core::{ChainConfig, Ledger, MemoryStore, Transaction};

    /// A real block event: a transfer from the first key to the second.
    fn event() -> (BlockEvent, Hash, Address) {
        let keys = keys(2, 9);
        let mut ledger = Ledger::open(
            MemoryStore::new(),
            genesis_for(&keys),
            ChainConfig::default(),
        )
        .expect("opens");
        let to = keys[1].address();
        let tx = Transaction::signed(&keys[0], to, 5.into(), 1, T0 + 1, Vec::new());
        ledger.push(&tx.to_raw()).expect("pushes");
        let changes = ledger
            .produce_block(T0 + 1, Address([9; 20]))
            .expect("produces")
            .expect("a block");
        (BlockEvent::of(&changes, Vec::new(), 0), tx.hash(), to)
    }

    #[test]
    fn a_block_owes_the_tip_then_accounts_then_final_statuses_once() {
        let (event, hash, to) = event();
        let mut session = Session::default();
        session.follow_blocks(1, 0);
        session.follow_account(to, 2, 0);
        session.follow_account(Address([7; 20]), 3, 0); // untouched by the block
        session.admitting(hash);
        assert_eq!(session.admitted(&hash), Admitted::Wanted { early: None });
        session.await_final(hash, 4);

        let owed = session.owed(&event);
        assert_eq!(owed.tip.map(|(id, tip)| (id, tip.depth)), Some((1, 1)));
        assert_eq!(
            owed.accounts
                .iter()
                .map(|(id, a, _)| (*id, *a))
                .collect::<Vec<_>>(),
            [(2, to)]
        );
        assert_eq!(
            owed.statuses.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            [4]
        );
        assert!(
            session.check_id(4).is_ok(),
            "the push ended, its id is free"
        );
        assert_eq!(
            session.owed(&event),
            Owed::default(),
            "never reported twice"
        );
    }

    #[test]
    fn ids_limits_and_duplicates_are_refused_by_name() {
        let mut session = Session::default();
        session.follow_blocks(1, 0);
        assert!(matches!(
            session.check_id(1),
            Err(RequestError::DuplicateId { id: 1 })
        ));
        assert!(matches!(
            session.may_follow_blocks(10),
            Err(RequestError::AlreadySubscribed { .. })
        ));
        assert!(matches!(
            session.may_follow_account(&Address([1; 20]), 1),
            Err(RequestError::SubscriptionLimit { limit: 1 })
        ));
        assert!(session.unfollow_blocks());
        assert!(!session.unfollow_blocks());
        assert!(session.check_id(1).is_ok());

        let address = Address([2; 20]);
        session.follow_account(address, 2, 0);
        let filter = LogFilter {
            address: Some(address),
            topics: vec![],
        };
        session.follow_logs(filter.clone(), 3, 0);
        for refused in [
            session.may_follow_account(&address, 10),
            session.may_follow_logs(&filter, 10),
        ] {
            assert!(
                matches!(refused, Err(RequestError::AlreadySubscribed { .. })),
                "{refused:?}"
            );
        }
        assert!(session.may_follow_logs(&LogFilter::default(), 10).is_ok());
        assert!(matches!(
            session.may_follow_logs(&LogFilter::default(), 2),
            Err(RequestError::SubscriptionLimit { limit: 2 })
        ));
        assert!(session.unfollow_logs(&filter));
        assert!(!session.unfollow_logs(&filter));
        assert!(session.check_id(3).is_ok());
    }

    #[test]
    fn a_push_dropped_before_its_admission_answer_gets_its_final_status_then() {
        let (mut event, hash, _) = event();
        let dropped = Hash([6; 32]);
        let status =
            TransactionStatus::rejected(ledger_core::StatusCode::NotEnoughBalance, "gone".into());
        event.dropped.insert(dropped, status.clone());
        event.statuses.remove(&hash);
        let mut session = Session::default();
        session.admitting(dropped);
        assert_eq!(session.owed(&event), Owed::default(), "not awaited yet");
        assert_eq!(
            session.admitted(&dropped),
            Admitted::Wanted {
                early: Some(status)
            }
        );
        assert!(session.check_id(8).is_ok(), "nothing left waiting");
    }

    #[test]
    fn a_push_stored_before_its_admission_answer_gets_its_final_status_then() {
        let (event, hash, _) = event();
        let stored = event.statuses[&hash].clone();
        let mut session = Session::default();
        session.admitting(hash);
        assert_eq!(session.owed(&event), Owed::default(), "not awaited yet");
        assert_eq!(
            session.admitted(&hash),
            Admitted::Wanted {
                early: Some(stored)
            },
            "the block's status, without reading the store"
        );
        assert_eq!(session.owed(&event), Owed::default(), "and only once");
        assert_eq!(session.subscriptions(), 0, "nothing left waiting");
    }

    #[test]
    fn a_push_cancelled_while_admitted_drops_its_answer() {
        let mut session = Session::default();
        let hash = Hash([5; 32]);
        session.admitting(hash);
        assert!(session.may_push(&hash, 10).is_err(), "the same push twice");
        assert!(session.unpush(&hash), "cancelled");
        assert_eq!(
            session.admitted(&hash),
            Admitted::Cancelled,
            "its admission answer is dropped"
        );
        assert_eq!(session.subscriptions(), 0);
    }
}
