//! The production policy on simulated time: no thread, no sleeping, the
//! same decisions a node makes.

use std::sync::Arc;
use std::time::Duration;

use ledger_chain::{BlockEvent, Clock, ManualClock, Producer, ProducerConfig};
use ledger_core::testing::{genesis_for, keys, T0};
use ledger_core::{
    Address, Balance, ChainConfig, Ledger, MemoryStore, SecretKey, Transaction, VerifiedTransaction,
};
use tokio::sync::broadcast;

const INTERVAL: Duration = Duration::from_millis(200);

struct Setup {
    producer: Producer<Arc<MemoryStore>, ledger_core::NoContracts, ManualClock>,
    clock: ManualClock,
    events: broadcast::Receiver<Arc<BlockEvent>>,
    keys: Vec<SecretKey>,
    next: u32,
}

fn setup(max_block_transactions: usize) -> Setup {
    setup_with(max_block_transactions, INTERVAL)
}

fn setup_with(max_block_transactions: usize, interval: Duration) -> Setup {
    let keys = keys(3, 21);
    let chain_config = ChainConfig {
        max_block_transactions,
        ..ChainConfig::default()
    };
    let ledger = Ledger::open(
        Arc::new(MemoryStore::new()),
        genesis_for(&keys),
        chain_config,
    )
    .expect("opens");
    let (sender, events) = broadcast::channel(16);
    let mut config = ProducerConfig::new(Address([9; 20]));
    config.block_interval = interval;
    let clock = ManualClock::new(T0);
    Setup {
        producer: Producer::new(ledger, config, sender, clock.clone()),
        clock,
        events,
        keys,
        next: 0,
    }
}

impl Setup {
    fn push(&mut self) -> VerifiedTransaction {
        self.next += 1;
        let tx = Transaction::signed(
            &self.keys[0],
            self.keys[1].address(),
            Balance::from(1),
            1,
            T0 + self.next,
            Vec::new(),
        );
        let tx = VerifiedTransaction::from_raw(&tx.to_raw()).expect("verifies");
        self.producer.admit(tx.clone()).expect("admitted");
        tx
    }

    /// Polls the producer with the clock moved forward to `at` since the
    /// start (the Unix time follows: T0 + whole seconds).
    fn poll_at(&mut self, at: Duration) -> bool {
        let now = self.clock.elapsed();
        assert!(at >= now, "time only moves forward");
        self.clock.advance(at - now);
        self.producer.poll().expect("polls")
    }

    fn blocks(&mut self) -> Vec<usize> {
        let mut sizes = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            sizes.push(event.block.transactions.len());
        }
        sizes
    }
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[test]
fn an_idle_chain_produces_at_once_then_waits_for_the_interval() {
    let mut s = setup(100);
    assert_eq!(s.producer.deadline(), None, "nothing pending, nothing due");
    s.push();
    assert_eq!(s.producer.deadline(), Some(Duration::ZERO));
    assert!(s.poll_at(ms(1_000)));
    assert_eq!(s.blocks(), [1]);

    s.push();
    s.push();
    assert_eq!(s.producer.deadline(), Some(ms(1_000) + INTERVAL));
    assert!(!s.poll_at(ms(1_199)), "too early");
    assert!(s.blocks().is_empty());
    assert!(s.poll_at(ms(1_200)));
    assert_eq!(s.blocks(), [2]);
}

#[test]
fn with_no_interval_a_block_follows_as_soon_as_the_last_one_is_stored() {
    let mut s = setup_with(100, Duration::ZERO);
    s.push();
    assert!(s.poll_at(ms(1_000)));
    // What arrived while that block was being stored goes next, without
    // the clock moving: blocks are as large as the commit is slow.
    s.push();
    s.push();
    assert_eq!(s.producer.deadline(), Some(ms(1_000)));
    assert!(s.poll_at(ms(1_000)));
    assert!(!s.poll_at(ms(1_000)), "nothing left");
    assert_eq!(s.blocks(), [1, 2]);
}

#[test]
fn a_block_worth_pending_is_produced_at_once() {
    let mut s = setup(3);
    s.push();
    assert!(s.poll_at(ms(0)));
    for _ in 0..3 {
        s.push();
    }
    assert_eq!(s.producer.deadline(), Some(Duration::ZERO));
    assert!(s.poll_at(ms(1)));
    assert_eq!(s.blocks(), [1, 3]);
}

#[test]
fn the_interval_runs_from_the_start_of_the_last_block() {
    let mut s = setup(100);
    s.push();
    assert!(s.poll_at(ms(0)));
    s.push();
    // Long after the interval: at once, and the next interval counts from here.
    assert!(s.poll_at(ms(5_000)));
    s.push();
    assert_eq!(s.producer.deadline(), Some(ms(5_000) + INTERVAL));
}

#[test]
fn draining_turns_everything_pending_into_blocks() {
    let mut s = setup(2);
    for _ in 0..5 {
        s.push();
    }
    s.clock.advance(ms(1_000));
    s.producer.drain().expect("drains");
    assert_eq!(s.blocks(), [2, 2, 1]);
    assert_eq!(s.producer.deadline(), None);
}

#[test]
fn an_imported_block_is_announced_like_a_produced_one_and_leaves_the_mempool() {
    // Another node of the same chain produces a block of a transaction
    // that is pending here.
    let mut s = setup(100);
    let tx = s.push();
    let mut peer = Ledger::open(
        MemoryStore::new(),
        genesis_for(&s.keys),
        ChainConfig::default(),
    )
    .expect("opens");
    peer.admit(tx.clone()).expect("admitted by the peer");
    let block = peer
        .produce_block(T0 + 7, Address([8; 20]))
        .expect("produces")
        .expect("a block")
        .block;

    let tip = s
        .producer
        .import(block.clone().into_inner())
        .expect("imports");
    assert_eq!(tip.hash, block.hash());
    let event = s.events.try_recv().expect("announced");
    assert_eq!(event.tip, tip);
    assert_eq!(event.block.hash(), block.hash());
    assert!(event.statuses.contains_key(&tx.hash()));
    assert!(
        !s.producer.is_pending(&tx.hash()),
        "applied, so no longer pending"
    );
    assert_eq!(s.producer.deadline(), None);
    // A block that does not extend the tip is refused and announces nothing.
    assert!(s.producer.import(block.into_inner()).is_err());
    assert!(s.events.try_recv().is_err());
}

#[test]
fn a_pending_transaction_an_imported_block_leaves_uncovered_is_dropped_and_announced() {
    let mut s = setup(100);
    let sender = &s.keys[0];
    let pending = |amount: u64, n: u32| {
        let tx = Transaction::signed(
            sender,
            Address([5; 20]),
            Balance::from(amount),
            0,
            T0 + n,
            vec![],
        );
        VerifiedTransaction::from_raw(&tx.to_raw()).expect("verifies")
    };
    // Here: two pending spends of 300,000 and 500,000 of the 1,000,000.
    let older = pending(300_000, 1);
    let newer = pending(500_000, 2);
    s.producer.admit(older.clone()).expect("admitted");
    s.producer.admit(newer.clone()).expect("admitted");
    // Elsewhere, the same sender spent 600,000 in a transaction never seen here.
    let mut peer = Ledger::open(
        MemoryStore::new(),
        genesis_for(&s.keys),
        ChainConfig::default(),
    )
    .expect("opens");
    peer.admit(pending(600_000, 3))
        .expect("admitted by the peer");
    let block = peer
        .produce_block(T0 + 3, Address([8; 20]))
        .expect("produces")
        .expect("a block")
        .block;

    s.producer.import(block.into_inner()).expect("imports");
    let event = s.events.try_recv().expect("announced");
    // 400,000 left: the newest pending spend goes, the older one still fits.
    assert_eq!(event.dropped.len(), 1, "{:?}", event.dropped);
    let status = &event.dropped[&newer.hash()];
    assert_eq!(
        status.status_code,
        ledger_core::StatusCode::NotEnoughBalance
    );
    assert!(!s.producer.is_pending(&newer.hash()));
    assert!(s.producer.is_pending(&older.hash()));
}

#[test]
fn metrics_count_blocks_statuses_commit_times_and_the_mempool() {
    let mut s = setup(100);
    s.push();
    s.push();
    let encoded = |s: &Setup| {
        let mut registry = prometheus_client::registry::Registry::default();
        s.producer.metrics().register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        text
    };
    let before = encoded(&s);
    assert!(
        before.contains("ledger_mempool_transactions 2\n"),
        "{before}"
    );
    assert!(before.contains("ledger_chain_height 0\n"), "{before}");
    assert!(s.poll_at(ms(0)));
    let after = encoded(&s);
    for line in [
        "ledger_mempool_transactions 0\n",
        "ledger_mempool_bytes 0\n",
        "ledger_chain_height 1\n",
        "ledger_blocks_total 1\n",
        "ledger_transactions_total{status=\"success\"} 2\n",
        "ledger_block_commit_seconds_count 1\n",
        // An in-memory store writes nothing to storage.
        "ledger_store_bytes_written_total 0\n",
    ] {
        assert!(after.contains(line), "{line} in {after}");
    }
}
